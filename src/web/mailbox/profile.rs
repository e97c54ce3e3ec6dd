//! The mailbox profile page (R23): contacts and PINs; email and PIN changes need the mailbox
//! password again and warn the addresses on file.

use super::*;

/// One input of the profile form.
pub(super) struct ProfileField {
    name: &'static str,
    label: &'static str,
    value: String,
    required: bool,
}

#[derive(Template)]
#[template(path = "profile.html")]
pub(super) struct ProfilePage {
    chrome: Chrome,
    imax_id: String,
    primary: Vec<ProfileField>,
    secondary: Vec<ProfileField>,
    has_pin: bool,
}

/// The profile as submitted (R23): every field, PINs in clear (hashed by the core).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ProfileForm {
    contact_first: String,
    contact_last: String,
    description: String,
    title: String,
    organization: String,
    firm_name: String,
    street1: String,
    street2: String,
    city: String,
    state: String,
    postal_code: String,
    country: String,
    phone: String,
    fax: String,
    email: String,
    secondary_first: String,
    secondary_last: String,
    secondary_email: String,
}

/// The PINs of the form and the mailbox's password, read apart so that they never sit in the
/// form's refill.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct PinFields {
    pin: String,
    secondary_pin: String,
    /// Needed to change an email address or a PIN (R23; checked by the core).
    mailbox_password: String,
}

/// The profile form as posted: the fields and, apart, the PINs.
#[derive(Deserialize)]
pub(super) struct ProfileSubmission {
    #[serde(flatten)]
    form: ProfileForm,
    #[serde(flatten)]
    pins: PinFields,
}

impl ProfileForm {
    fn from_profile(p: &crate::store::profiles::Profile) -> ProfileForm {
        ProfileForm {
            contact_first: p.contact_first.clone(),
            contact_last: p.contact_last.clone(),
            description: p.description.clone(),
            title: p.title.clone(),
            organization: p.organization.clone(),
            firm_name: p.firm_name.clone(),
            street1: p.street1.clone(),
            street2: p.street2.clone(),
            city: p.city.clone(),
            state: p.state.clone(),
            postal_code: p.postal_code.clone(),
            country: p.country.clone(),
            phone: p.phone.clone(),
            fax: p.fax.clone(),
            email: p.email.clone(),
            secondary_first: p.secondary_first.clone(),
            secondary_last: p.secondary_last.clone(),
            secondary_email: p.secondary_email.clone(),
        }
    }

    fn profile(&self) -> crate::store::profiles::Profile {
        let t = |s: &String| s.trim().to_string();
        crate::store::profiles::Profile {
            contact_first: t(&self.contact_first),
            contact_last: t(&self.contact_last),
            description: t(&self.description),
            title: t(&self.title),
            organization: t(&self.organization),
            firm_name: t(&self.firm_name),
            street1: t(&self.street1),
            street2: t(&self.street2),
            city: t(&self.city),
            state: t(&self.state),
            postal_code: t(&self.postal_code),
            country: t(&self.country),
            phone: t(&self.phone),
            fax: t(&self.fax),
            email: t(&self.email),
            secondary_first: t(&self.secondary_first),
            secondary_last: t(&self.secondary_last),
            secondary_email: t(&self.secondary_email),
            ..Default::default()
        }
    }

    fn fields(&self) -> (Vec<ProfileField>, Vec<ProfileField>) {
        let f = |name, label, value: &String, required| ProfileField {
            name,
            label,
            value: value.clone(),
            required,
        };
        let primary = vec![
            f("contact_first", "First name", &self.contact_first, true),
            f("contact_last", "Last name", &self.contact_last, true),
            f(
                "description",
                "Description (owner, management agent, TCA, PBCA, service bureau, …)",
                &self.description,
                false,
            ),
            f("title", "Title", &self.title, true),
            f("organization", "Organization", &self.organization, true),
            f("firm_name", "Firm name", &self.firm_name, true),
            f("street1", "Street address 1", &self.street1, true),
            f("street2", "Street address 2", &self.street2, false),
            f("city", "City", &self.city, true),
            f(
                "state",
                "U.S. state or territory (two letters)",
                &self.state,
                false,
            ),
            f(
                "postal_code",
                "U.S. ZIP code or foreign postal code",
                &self.postal_code,
                false,
            ),
            f("country", "Country", &self.country, true),
            f("phone", "Telephone number", &self.phone, false),
            f("fax", "FAX number", &self.fax, false),
            f("email", "Email address", &self.email, true),
        ];
        let secondary = vec![
            f(
                "secondary_first",
                "First name",
                &self.secondary_first,
                false,
            ),
            f("secondary_last", "Last name", &self.secondary_last, false),
            f(
                "secondary_email",
                "Email address",
                &self.secondary_email,
                false,
            ),
        ];
        (primary, secondary)
    }
}

/// The profile page; with `error` it is the form sent back as it was filled, with the
/// refusal's status (400 for what was entered).
pub(super) async fn profile_page(
    web: &Web,
    s: &Session,
    m: &MailboxSession,
    form: &ProfileForm,
    has_pin: bool,
    notice: Option<String>,
    error: Option<&Refusal>,
) -> Page {
    let mut chrome = web.mailbox_chrome(s, m, "Mailbox profile").await;
    chrome.notice = notice;
    let refused = error.map(|r| super::super::status_of(r.code));
    chrome.error = error.map(Refusal::message);
    let (primary, secondary) = form.fields();
    let mut page = render(&ProfilePage {
        chrome,
        imax_id: m.mailbox().imax_id.to_string(),
        primary,
        secondary,
        has_pin,
    });
    if let Some(status) = refused {
        *page.status_mut() = status;
        return Err(page);
    }
    Ok(page)
}

#[derive(Deserialize)]
pub(super) struct SavedQuery {
    saved: Option<String>,
}

pub(super) async fn profile_form(
    State(web): State<Web>,
    Signed(s): Signed,
    Query(q): Query<SavedQuery>,
) -> Page {
    let m = web.mailbox(&s, Operation::OpenImax).await?;
    let on_file = web.settled(&s, web.gw.mailbox_profile(&m).await).await?;
    let form = match &on_file {
        Some(p) => ProfileForm::from_profile(p),
        None => ProfileForm {
            country: "US".into(),
            ..ProfileForm::default()
        },
    };
    let notice = q.saved.map(|_| "The profile was saved.".to_string());
    profile_page(&web, &s, &m, &form, on_file.is_some(), notice, None).await
}

/// R23: whoever has the mailbox open keeps its profile current; an email address or a PIN
/// only with the mailbox's password again (the core checks, counts and mails the notice).
pub(super) async fn save_profile(
    State(web): State<Web>,
    Checked(s, ProfileSubmission { form, pins }): Checked<ProfileSubmission>,
) -> Page {
    let m = web.mailbox(&s, Operation::OpenImax).await?;
    let secret = |p: String| (!p.is_empty()).then(|| Secret::new(p));
    let edit = crate::gateway::profile::ProfileEdit {
        profile: form.profile(),
        pin: secret(pins.pin),
        secondary_pin: secret(pins.secondary_pin),
        mailbox_password: secret(pins.mailbox_password),
    };
    match web.gw.change_mailbox_profile(&m, edit).await {
        Ok(()) => Ok(see_other("/mailbox/profile?saved")),
        // The form again, as filled (never a PIN or the password), with the refusal above it.
        Err(r)
            if matches!(
                r.code,
                Code::InvalidInput | Code::MailboxAuthenticationFailed | Code::MailUnavailable
            ) =>
        {
            let has_pin = web.gw.mailbox_profile(&m).await.ok().flatten().is_some();
            profile_page(&web, &s, &m, &form, has_pin, None, Some(&r)).await
        }
        Err(r) => Err(web.resolve(&s, &r).await),
    }
}

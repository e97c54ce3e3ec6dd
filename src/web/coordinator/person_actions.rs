//! The person page's buttons: state, rights, flags, assignments, staff, recertification,
//! demotion, designation and temporary passwords; each calls one [`Admin`] operation.

use super::*;

/// Runs one person action (its form already CSRF-checked) and redirects back to the person
/// page.
async fn act<Form, F, Fut>(web: &Web, s: &Session, mid: &str, form: Form, done: &str, f: F) -> Page
where
    F: FnOnce(Admin, Form) -> Fut,
    Fut: std::future::Future<Output = AdminResult<()>>,
{
    let (_, admin) = web.acting(s).await?;
    let base = base_for(&admin, mid);
    f(admin, form).await.or_page(web, s)?;
    Ok(see_other(&format!("{base}?done={done}&who={}", enc(mid))))
}

/// A person page's action: `$name` is the handler, `$done` what the page then says, `$form`
/// the typed form it takes, and the body acts through the `Admin` on the person `$mid`.
macro_rules! person_action {
    ($name:ident, $done:literal, $form:ty, |$admin:ident, $mid:ident, $f:ident| $body:expr) => {
        pub(super) async fn $name(
            State(web): State<Web>,
            Path(mid): Path<String>,
            Checked(s, form): Checked<$form>,
        ) -> Page {
            act(
                &web,
                &s,
                &mid.clone(),
                form,
                $done,
                |$admin, $f| async move {
                    let $mid = mid.as_str();
                    $body
                },
            )
            .await
        }
    };
}

/// The state buttons: unlock (or restore), lock, terminate.
#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum StateChoice {
    Active,
    Locked,
    Terminated,
}

#[derive(Deserialize)]
pub(super) struct StatusForm {
    to: StateChoice,
}

/// A right's buttons: give or remove, and flag for removal or keep.
#[derive(Deserialize)]
pub(super) struct RightForm {
    right: String,
    #[serde(default)]
    change: Option<Change>,
    #[serde(default)]
    flag: Option<YesNo>,
}

#[derive(Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub(super) enum Change {
    Grant,
    Revoke,
}

#[derive(Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub(super) enum YesNo {
    Yes,
    No,
}

impl RightForm {
    fn right(&self) -> AdminResult<Right> {
        Right::parse(&self.right)
            .ok_or_else(|| Refusal::because(Code::InvalidInput, "There is no such right"))
    }
}

/// The properties' check boxes: the ones ticked.
#[derive(Deserialize)]
#[serde(from = "Fields")]
pub(super) struct PropertiesForm {
    chosen: Vec<String>,
}

impl From<Fields> for PropertiesForm {
    fn from(f: Fields) -> Self {
        PropertiesForm {
            chosen: f.all("property"),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct PasswordForm {
    password: Secret,
}

person_action!(set_status, "status", StatusForm, |admin, mid, f| {
    let to = match f.to {
        StateChoice::Active => AccountStatus::Active,
        StateChoice::Locked => AccountStatus::Locked(LockReason::Administrative),
        StateChoice::Terminated => AccountStatus::Terminated,
    };
    admin.set_status(mid, to).await
});

person_action!(admit, "admitted", Button, |admin, mid, _f| admin
    .admit(mid)
    .await);

person_action!(change_right, "rights", RightForm, |admin, mid, f| {
    let right = f.right()?;
    match f.change {
        Some(Change::Grant) => admin.grant(mid, right).await,
        Some(Change::Revoke) => admin.revoke(mid, right).await,
        None => Err(Refusal::because(
            Code::InvalidInput,
            "Give or remove the right",
        )),
    }
});

person_action!(flag, "flag", RightForm, |admin, mid, f| {
    let right = f.right()?;
    admin
        .flag_right(mid, right, f.flag == Some(YesNo::Yes))
        .await
});

/// A property assignment's review button: flag for removal at the deadline, or keep.
#[derive(Deserialize)]
pub(super) struct FlagPropertyForm {
    property: String,
    flag: YesNo,
}

person_action!(flag_property, "flag", FlagPropertyForm, |admin, mid, f| {
    admin
        .flag_assignment(mid, f.property.trim(), f.flag == YesNo::Yes)
        .await
});

person_action!(properties, "properties", PropertiesForm, |admin, mid, f| {
    let chosen = f.chosen;
    let person = admin.view_person(mid).await?;
    for p in person.properties {
        let want = chosen.contains(&p.number);
        if want != p.assigned {
            admin.assign_property(mid, &p.number, want).await?;
        }
    }
    Ok(())
});

/// The Help Desk's designation of an H-ID as a certifier of HUD's staff.
#[derive(Deserialize)]
pub(super) struct DesignateForm {
    on: YesNo,
}

person_action!(designate, "certifier", DesignateForm, |admin, mid, f| {
    admin.designate_certifier(mid, f.on == YesNo::Yes).await
});

person_action!(demote, "demoted", Button, |admin, mid, _f| admin
    .demote(mid)
    .await);

person_action!(staff, "staff", Button, |admin, mid, _f| admin
    .assign_staff(mid)
    .await);

person_action!(recertify, "recertified", Button, |admin, mid, _f| admin
    .recertify(mid)
    .await
    .map(|_| ()));

person_action!(
    temporary_password,
    "password",
    PasswordForm,
    |admin, mid, f| admin.set_password(mid, &f.password, true).await
);

//! Creating a user for the coordinator's BPR properties (R3), with the iMAX role (R5).

use super::my_users::my_users_refused;
use super::*;

/// The new user form.
#[derive(Deserialize)]
#[serde(from = "Fields")]
pub(super) struct NewUserForm {
    mid: String,
    full_name: String,
    email: String,
    organization: String,
    password: Secret,
    properties: Vec<String>,
    grant_imax: bool,
}

impl From<Fields> for NewUserForm {
    fn from(f: Fields) -> Self {
        NewUserForm {
            mid: f.get("mid").trim().to_uppercase(),
            full_name: f.get("full_name").trim().into(),
            email: f.get("email").trim().into(),
            organization: f.get("organization").trim().into(),
            password: Secret::new(f.get("password").to_string()),
            properties: f.all("property"),
            grant_imax: f.get("grant_imax") == "yes",
        }
    }
}

/// R3: a coordinator creates users for its BPR properties; R5: the iMAX role follows.
pub(super) async fn create_user(
    State(web): State<Web>,
    Checked(s, f): Checked<NewUserForm>,
) -> Page {
    let (_, admin) = coordinator(&web, &s).await?;
    let mid = f.mid;
    if MId::parse(&mid).is_none() {
        let sentence = "An M-ID is M followed by digits, e.g. M12345.";
        let refusal = Refusal::because(Code::InvalidInput, sentence);
        return my_users_refused(&web, &s, FieldErrors::one("mid", sentence), refusal).await;
    }
    let person = NewPerson {
        mid: mid.clone(),
        kind: AccountKind::User,
        full_name: f.full_name,
        email: f.email,
        organization: f.organization,
        password: f.password,
        temporary: true,
        properties: f.properties,
        // A coordinator makes industry M-IDs only (`Admin::create_account` refuses others).
        affiliation: None,
    };
    let result = match admin.create_account(&person).await {
        Ok(()) if f.grant_imax => admin.grant(&mid, Right::Imax).await,
        other => other,
    };
    match result {
        Ok(()) => Ok(see_other(&format!(
            "/coordinator?done=created&who={}",
            enc(&mid)
        ))),
        Err(e) if e.code == Code::PasswordRejected => {
            let marked = FieldErrors::one("password", e.message());
            my_users_refused(&web, &s, marked, e).await
        }
        Err(e) => my_users_refused(&web, &s, FieldErrors::default(), e).await,
    }
}

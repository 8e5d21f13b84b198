//! Staff accounts and their roles per unit.

use super::{Error, UnitId, UserId};
use chrono::{DateTime, Utc};

/// A person who signs in: agent, supervisor or admin.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub display_name: String,
    pub is_admin: bool,
    pub active: bool,
    pub locale: String,
    pub memberships: Vec<Membership>,
    pub created_at: DateTime<Utc>,
}

/// A user to create; the password is already hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: Email,
    pub display_name: String,
    pub password_hash: String,
    pub is_admin: bool,
    pub locale: String,
    pub memberships: Vec<Membership>,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub display_name: Option<String>,
    pub password_hash: Option<String>,
    pub is_admin: Option<bool>,
    pub active: Option<bool>,
    pub locale: Option<String>,
    pub memberships: Option<Vec<Membership>>,
}

/// What a request asks to change of an account, for [`authorize_change`].
#[derive(Debug, Clone, Copy, Default)]
pub struct AccountChange {
    pub password: bool,
    pub is_admin: Option<bool>,
    pub active: Option<bool>,
    pub memberships: bool,
    /// The caller proved they know the account's current password.
    pub current_password_given: bool,
}

/// Who may create or change which staff account. `target` is `None` for a
/// new account. The rules:
/// - only an admin user makes admins or touches an admin's account; a
///   `users:write` token manages the other accounts and nothing more, so a
///   leaked provisioning token cannot mint an admin or take one over;
/// - roles, memberships and whether an account is active are changed by
///   admins and `users:write` tokens, never by the person themself;
/// - someone changing their own password proves they know the current one;
/// - nobody removes their own admin role or deactivates themself.
pub fn authorize_change(
    principal: &super::Principal,
    target: Option<&User>,
    change: &AccountChange,
) -> Result<(), Error> {
    let is_self = target.is_some_and(|t| principal.user_id() == Some(t.id));
    let manager = principal.is_admin_or_token(super::Scope::UsersWrite);
    if !manager && !is_self {
        return Err(Error::Forbidden("only admins may change other users"));
    }
    if !principal.is_admin() {
        if change.is_admin == Some(true) {
            return Err(Error::Forbidden("only an admin may make an admin"));
        }
        if target.is_some_and(|t| t.is_admin) && !is_self {
            return Err(Error::Forbidden("only an admin may change an admin's account"));
        }
    }
    let privileged = change.is_admin.is_some() || change.active.is_some() || change.memberships;
    if privileged && !manager {
        return Err(Error::Forbidden("only admins may change roles, memberships or whether an account is active"));
    }
    if is_self && (change.is_admin == Some(false) || change.active == Some(false)) {
        return Err(Error::invalid("is_admin", "you cannot remove your own admin role or deactivate yourself"));
    }
    if is_self && change.password && !change.current_password_given {
        return Err(Error::invalid("current_password", "give your current password to choose a new one"));
    }
    Ok(())
}

/// A role a user holds in one unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Membership {
    pub unit_id: UnitId,
    pub role: Role,
}

/// What a user may do inside a unit. Admin is institution-wide and lives on the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Supervisor,
    Agent,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Supervisor => "supervisor",
            Role::Agent => "agent",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
        match value {
            "supervisor" => Ok(Role::Supervisor),
            "agent" => Ok(Role::Agent),
            _ => Err(Error::invalid(field, "must be `supervisor` or `agent`")),
        }
    }
}

/// A syntactically plausible e-mail address, stored lowercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
        let value = value.trim().to_lowercase();
        let valid = value.len() <= 254
            && value.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !value.chars().any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\"\\".contains(c))
                    && value.matches('@').count() == 1
            });
        if !valid {
            return Err(Error::invalid(field, "must be an e-mail address such as ana@universidad.edu.co"));
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Minimum password rules: long enough, not trivially the e-mail.
pub fn check_password(field: &str, password: &str, email: &Email) -> Result<(), Error> {
    // Length is what makes a password strong (OWASP ASVS 2.1.1); no
    // composition rules, which only make passwords harder to remember.
    let n_chars = password.chars().count();
    if n_chars < 12 {
        return Err(Error::invalid(field, "must be at least 12 characters"));
    }
    if n_chars > 256 {
        return Err(Error::invalid(field, "must be at most 256 characters"));
    }
    if password.to_lowercase() == email.as_str() {
        return Err(Error::invalid(field, "must not be the e-mail address"));
    }
    if is_easy_to_guess(password) {
        return Err(Error::invalid(
            field,
            "is too easy to guess (a common password or a repeated pattern); choose another",
        ));
    }
    Ok(())
}

/// Long passwords people still choose first: guessers try them first too.
const COMMON: [&str; 24] = [
    "contraseña123",
    "contrasena123",
    "contraseña1234",
    "password1234",
    "password12345",
    "passw0rd1234",
    "qwertyuiop12",
    "qwertyuiopas",
    "qwertyuiop123",
    "administrador",
    "administrator",
    "bienvenido123",
    "universidad123",
    "iloveyou1234",
    "1q2w3e4r5t6y",
    "1qaz2wsx3edc",
    "zaq12wsxcde3",
    "q1w2e3r4t5y6",
    "asdfghjkl123",
    "asdfghjklñ12",
    "teamo1234567",
    "estudiante123",
    "ventanilla123",
    "colombia2024",
];

/// A common password, few distinct characters (`aaaaaaaaaaaa`,
/// `abcabcabcabc`), or a run up or down the alphabet or digits.
fn is_easy_to_guess(password: &str) -> bool {
    let lower = password.to_lowercase();
    if COMMON.contains(&lower.as_str()) {
        return true;
    }
    let chars: Vec<char> = lower.chars().filter(|c| !c.is_whitespace()).collect();
    let distinct: std::collections::BTreeSet<&char> = chars.iter().collect();
    if distinct.len() <= 3 {
        return true;
    }
    let steps: Vec<i64> = chars.windows(2).map(|w| i64::from(u32::from(w[1])) - i64::from(u32::from(w[0]))).collect();
    // A run, allowing 9→0 in digits: 123456789012.
    let run = |dir: i64| steps.iter().all(|s| *s == dir || *s == -9 * dir);
    run(1) || run(-1)
}

/// Supported interface languages for people and staff.
pub const LOCALES: [&str; 3] = ["es", "en", "pt"];

pub fn parse_locale(field: &str, value: &str) -> Result<String, Error> {
    if LOCALES.contains(&value) {
        Ok(value.to_owned())
    } else {
        Err(Error::invalid(field, "must be one of es, en, pt"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(Email::parse("email", " Ana@Uni.EDU.co ").map(|e| e.0), Ok("ana@uni.edu.co".into()));
        for bad in ["", "ana", "ana@", "@uni.co", "ana@uni", "a b@uni.co", "a@b@c.co", "<a>@b.co"] {
            assert!(Email::parse("email", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords() {
        let email = Email::parse("email", "ana@uni.co").unwrap();
        assert!(check_password("password", "corta", &email).is_err());
        assert!(check_password("password", "ana@uni.co", &email).is_err());
        assert!(check_password("password", "una clave larga", &email).is_ok());
    }

    #[test]
    fn easy_passwords_are_refused_whatever_their_length() {
        let email = Email::parse("email", "ana@uni.co").unwrap();
        for easy in [
            "aaaaaaaaaaaaaa",
            "abcabcabcabcabc",
            "123123123123",
            "123456789012",
            "zyxwvutsrqpon",
            "Contraseña123",
            "ADMINISTRADOR",
        ] {
            assert!(check_password("password", easy, &email).is_err(), "{easy}");
        }
        for fine in ["caballo correcto batería grapa", "mi perro se llama Tobi", "el 7 de agosto en Boyacá"] {
            assert!(check_password("password", fine, &email).is_ok(), "{fine}");
        }
    }
}

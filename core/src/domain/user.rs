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
    let n_chars = password.chars().count();
    if n_chars < 10 {
        return Err(Error::invalid(field, "must be at least 10 characters"));
    }
    if n_chars > 256 {
        return Err(Error::invalid(field, "must be at most 256 characters"));
    }
    if password.to_lowercase() == email.as_str() {
        return Err(Error::invalid(field, "must not be the e-mail address"));
    }
    Ok(())
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
}

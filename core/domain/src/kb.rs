//! Knowledge bases: a unit's (or the institution's) FAQ and articles, their
//! categories, versions and the rules of who may change them.

use super::{ArticleId, CategoryId, KbId};
use super::{Error, Principal, Role, Scope, Slug, UnitId, required_text};
use chrono::{DateTime, Utc};

/// Languages the help center and the search analysis know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    #[default]
    Es,
    En,
    Pt,
}

impl Locale {
    pub const ALL: [Locale; 3] = [Locale::Es, Locale::En, Locale::Pt];

    pub fn as_str(self) -> &'static str {
        match self {
            Locale::Es => "es",
            Locale::En => "en",
            Locale::Pt => "pt",
        }
    }

    /// Accepts `es`, `es-CO`, `pt_BR`...: the language decides the analysis.
    pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
        let language = value.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
        Locale::ALL
            .into_iter()
            .find(|l| l.as_str() == language)
            .ok_or_else(|| Error::invalid(field, format!("`{value}` is not a supported locale; use es, en or pt")))
    }
}

impl std::fmt::Display for Locale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who can read a knowledge base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Anyone, without signing in: the public help center.
    Public,
    /// Staff only: procedures for agents.
    Internal,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Internal => "internal",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
        match value {
            "public" => Ok(Visibility::Public),
            "internal" => Ok(Visibility::Internal),
            _ => Err(Error::invalid(field, "must be public or internal")),
        }
    }
}

/// How the help center looks for this knowledge base.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Theme {
    pub institution_name: Option<String>,
    /// An https URL or a path on this server.
    pub logo_url: Option<String>,
    /// `#rrggbb`.
    pub primary_color: Option<String>,
    pub accent_color: Option<String>,
}

impl Theme {
    pub fn validate(&self, field: &str) -> Result<(), Error> {
        if let Some(name) = &self.institution_name {
            required_text(&format!("{field}.institution_name"), name, 200)?;
        }
        if let Some(url) = &self.logo_url {
            let ok = (url.starts_with("https://") || url.starts_with('/')) && url.len() <= 500;
            let safe = !url.chars().any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '\\'));
            if !ok || !safe {
                return Err(Error::invalid(
                    format!("{field}.logo_url"),
                    "must be an https URL or a path starting with /",
                ));
            }
        }
        for (name, colour) in [("primary_color", &self.primary_color), ("accent_color", &self.accent_color)] {
            if let Some(colour) = colour {
                let ok =
                    colour.len() == 7 && colour.starts_with('#') && colour[1..].chars().all(|c| c.is_ascii_hexdigit());
                if !ok {
                    return Err(Error::invalid(format!("{field}.{name}"), "must be a colour as #rrggbb"));
                }
            }
        }
        Ok(())
    }
}

/// Words and phrases that mean the same to the people searching, e.g.
/// `["matrícula", "inscripción"]`. Each group has 2 to 20 entries.
pub type SynonymGroup = Vec<String>;

pub fn validate_synonyms(field: &str, groups: &[SynonymGroup]) -> Result<Vec<SynonymGroup>, Error> {
    if groups.len() > 500 {
        return Err(Error::invalid(field, "must have at most 500 groups"));
    }
    let mut clean = Vec::with_capacity(groups.len());
    for (i, group) in groups.iter().enumerate() {
        if !(2..=20).contains(&group.len()) {
            return Err(Error::invalid(format!("{field}[{i}]"), "a group needs 2 to 20 words or phrases"));
        }
        let mut terms = Vec::with_capacity(group.len());
        for (j, term) in group.iter().enumerate() {
            terms.push(required_text(&format!("{field}[{i}][{j}]"), term, 80)?.to_lowercase());
        }
        clean.push(terms);
    }
    Ok(clean)
}

#[derive(Debug, Clone, PartialEq)]
pub struct KnowledgeBase {
    pub id: KbId,
    /// `None`: the institution's knowledge base, managed by admins.
    pub unit_id: Option<UnitId>,
    pub slug: Slug,
    pub name: String,
    pub locale: Locale,
    pub visibility: Visibility,
    pub theme: Theme,
    pub synonyms: Vec<SynonymGroup>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewKnowledgeBase {
    pub unit_id: Option<UnitId>,
    pub slug: Slug,
    pub name: String,
    pub locale: Locale,
    pub visibility: Visibility,
    pub theme: Theme,
    pub synonyms: Vec<SynonymGroup>,
}

#[derive(Debug, Clone, Default)]
pub struct KbPatch {
    pub name: Option<String>,
    pub locale: Option<Locale>,
    pub visibility: Option<Visibility>,
    pub theme: Option<Theme>,
    pub synonyms: Option<Vec<SynonymGroup>>,
}

/// Categories nest two levels: a top category and its subcategories.
#[derive(Debug, Clone, PartialEq)]
pub struct Category {
    pub id: CategoryId,
    pub kb_id: KbId,
    pub parent_id: Option<CategoryId>,
    pub slug: Slug,
    pub name: String,
    pub description: String,
    pub position: i32,
}

#[derive(Debug, Clone)]
pub struct NewCategory {
    pub parent_id: Option<CategoryId>,
    pub slug: Slug,
    pub name: String,
    pub description: String,
    pub position: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArticleStatus {
    Draft,
    Published,
    Archived,
}

impl ArticleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ArticleStatus::Draft => "draft",
            ArticleStatus::Published => "published",
            ArticleStatus::Archived => "archived",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
        match value {
            "draft" => Ok(ArticleStatus::Draft),
            "published" => Ok(ArticleStatus::Published),
            "archived" => Ok(ArticleStatus::Archived),
            _ => Err(Error::invalid(field, "must be draft, published or archived")),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Article {
    pub id: ArticleId,
    pub kb_id: KbId,
    pub category_id: Option<CategoryId>,
    /// Articles that are translations of each other share this id.
    pub translation_group: uuid::Uuid,
    pub locale: Locale,
    pub slug: String,
    pub title: String,
    /// Markdown; rendered without raw HTML.
    pub body: String,
    /// What the bot replies with; one or two sentences.
    pub short_answer: String,
    pub keywords: Vec<String>,
    pub status: ArticleStatus,
    /// Grows by one with every change, publishing and archiving included.
    pub version: i32,
    pub views: i64,
    pub helpful_yes: i64,
    pub helpful_no: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
}

/// An article to create, validated.
#[derive(Debug, Clone)]
pub struct NewArticle {
    pub category_id: Option<CategoryId>,
    /// An existing article this one translates.
    pub translation_of: Option<ArticleId>,
    pub locale: Locale,
    pub title: String,
    pub body: String,
    pub short_answer: String,
    pub keywords: Vec<String>,
    pub status: ArticleStatus,
}

#[derive(Debug, Clone, Default)]
pub struct ArticlePatch {
    /// `Some(None)` removes the category.
    pub category_id: Option<Option<CategoryId>>,
    pub title: Option<String>,
    pub body: Option<String>,
    pub short_answer: Option<String>,
    pub keywords: Option<Vec<String>>,
    pub status: Option<ArticleStatus>,
}

impl ArticlePatch {
    pub fn is_empty(&self) -> bool {
        self.category_id.is_none()
            && self.title.is_none()
            && self.body.is_none()
            && self.short_answer.is_none()
            && self.keywords.is_none()
            && self.status.is_none()
    }
}

/// One saved state of an article.
#[derive(Debug, Clone, PartialEq)]
pub struct ArticleVersion {
    pub article_id: ArticleId,
    pub version: i32,
    pub title: String,
    pub body: String,
    pub short_answer: String,
    pub keywords: Vec<String>,
    pub category_id: Option<CategoryId>,
    pub status: ArticleStatus,
    /// `user:<uuid>`, `api_token:<uuid>` or `system`.
    pub author: String,
    pub created_at: DateTime<Utc>,
}

pub const MAX_TITLE: usize = 300;
pub const MAX_BODY: usize = 100_000;
pub const MAX_SHORT_ANSWER: usize = 1_000;

pub fn validate_keywords(field: &str, keywords: &[String]) -> Result<Vec<String>, Error> {
    if keywords.len() > 50 {
        return Err(Error::invalid(field, "must have at most 50 keywords"));
    }
    keywords.iter().enumerate().map(|(i, k)| required_text(&format!("{field}[{i}]"), k, 80)).collect()
}

/// The short answer, or the body's first paragraph that is not a heading.
pub fn short_answer_or_default(short_answer: Option<&str>, body: &str) -> Result<String, Error> {
    match short_answer.map(str::trim).filter(|s| !s.is_empty()) {
        Some(text) => required_text("short_answer", text, MAX_SHORT_ANSWER),
        None => {
            let first =
                body.split("\n\n").map(str::trim).find(|p| !p.is_empty() && !p.starts_with('#')).unwrap_or_default();
            let plain: String = first.chars().filter(|c| !matches!(c, '#' | '*' | '_' | '`' | '>')).collect();
            Ok(plain.trim().chars().take(MAX_SHORT_ANSWER).collect())
        }
    }
}

/// A URL slug from a title: lowercase ASCII, accents removed, words joined by dashes.
pub fn slugify(title: &str, max_len: usize) -> String {
    let mut slug = String::with_capacity(title.len());
    for c in title.chars().flat_map(char::to_lowercase) {
        let c = fold_char(c);
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.len() >= max_len {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() { "articulo".to_owned() } else { slug.to_owned() }
}

/// Where the help center shows an article (a path on this server).
pub fn article_path(kb: &KnowledgeBase, locale: Locale, slug: &str) -> String {
    format!("/help/{}/{}/articles/{}", kb.slug.as_str(), locale.as_str(), slug)
}

/// The longest search query, in characters.
pub const MAX_QUERY: usize = 300;

/// A search query as every surface takes it: trimmed, 1 to 300 characters.
pub fn query_text(q: &str) -> Result<String, Error> {
    crate::required_text("q", q, MAX_QUERY)
}

/// Lowercases and removes accents: the one folding of text for search,
/// whatever searches (the index, `?text=` on cases, contact lookups).
pub fn fold(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).map(fold_char).collect()
}

/// Removes the accent from a lowercase Latin letter (`á` → `a`, `ñ` → `n`, `ç` → `c`).
pub fn fold_char(c: char) -> char {
    match c {
        'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' => 'a',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'í' | 'ì' | 'î' | 'ï' => 'i',
        'ó' | 'ò' | 'ô' | 'ö' | 'õ' => 'o',
        'ú' | 'ù' | 'û' | 'ü' => 'u',
        'ñ' => 'n',
        'ç' => 'c',
        _ => c,
    }
}

/// What callers may do with knowledge bases.
impl Principal {
    /// May read a knowledge base's drafts and internal articles: every staff
    /// member, tokens with `kb:read`.
    pub fn can_read_kb(&self) -> bool {
        matches!(self, Principal::User { .. }) || self.token_has(Scope::KbRead)
    }

    /// May create, edit, publish and archive in a knowledge base of `unit`
    /// (`None`: the institution's): its supervisors, admins, `kb:write` tokens.
    pub fn can_manage_kb(&self, unit: Option<UnitId>) -> bool {
        self.is_admin_or_token(Scope::KbWrite) || unit.is_some_and(|u| self.role_in(u) == Some(Role::Supervisor))
    }

    /// May propose drafts: managers and the unit's agents.
    pub fn can_propose_kb_drafts(&self, unit: Option<UnitId>) -> bool {
        self.can_manage_kb(unit) || unit.is_some_and(|u| self.role_in(u).is_some())
    }

    /// May write an article of a knowledge base of `unit` that is `before`
    /// (`None`: a new one) and will be `after`. Managers write anything;
    /// agents only drafts that were drafts, never what is published or
    /// archived, by whatever path (edit, import).
    pub fn may_write_article(
        &self,
        unit: Option<UnitId>,
        before: Option<ArticleStatus>,
        after: ArticleStatus,
    ) -> Result<(), Error> {
        if self.can_manage_kb(unit) {
            return Ok(());
        }
        let drafts_only = after == ArticleStatus::Draft && before.is_none_or(|b| b == ArticleStatus::Draft);
        if drafts_only && self.can_propose_kb_drafts(unit) {
            Ok(())
        } else {
            Err(Error::Forbidden("only the unit's supervisors and admins may publish; agents may propose drafts"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Membership, UserId};

    #[test]
    fn locales_parse_by_language() {
        assert_eq!(Locale::parse("locale", "es-CO"), Ok(Locale::Es));
        assert_eq!(Locale::parse("locale", "pt_BR"), Ok(Locale::Pt));
        assert_eq!(Locale::parse("locale", "EN"), Ok(Locale::En));
        assert!(Locale::parse("locale", "fr").is_err());
        assert!(Locale::parse("locale", "").is_err());
    }

    #[test]
    fn slugs_come_from_titles() {
        assert_eq!(slugify("¿Cómo solicito una beca?", 120), "como-solicito-una-beca");
        assert_eq!(slugify("Año académico 2027 — fechas", 120), "ano-academico-2027-fechas");
        assert_eq!(slugify("¿?", 120), "articulo");
        assert!(slugify(&"palabra ".repeat(50), 120).len() <= 120);
    }

    #[test]
    fn themes_reject_unsafe_values() {
        let ok =
            Theme { primary_color: Some("#0a3d62".into()), logo_url: Some("/logo.png".into()), ..Theme::default() };
        assert!(ok.validate("theme").is_ok());
        let bad_colour = Theme { primary_color: Some("red".into()), ..Theme::default() };
        assert!(bad_colour.validate("theme").is_err());
        let bad_url = Theme { logo_url: Some("javascript:alert(1)".into()), ..Theme::default() };
        assert!(bad_url.validate("theme").is_err());
        let quote = Theme { logo_url: Some("/a\"onerror=\"x".into()), ..Theme::default() };
        assert!(quote.validate("theme").is_err());
    }

    #[test]
    fn synonym_groups_need_two_terms() {
        assert!(validate_synonyms("synonyms", &[vec!["beca".into()]]).is_err());
        let groups = validate_synonyms("synonyms", &[vec!["Matrícula".into(), " inscripción ".into()]]);
        assert_eq!(groups, Ok(vec![vec!["matrícula".to_owned(), "inscripción".to_owned()]]));
    }

    #[test]
    fn short_answer_defaults_to_first_paragraph() {
        let body = "# Becas\n\nLa **beca** cubre la matrícula.\n\nMás detalles abajo.";
        assert_eq!(short_answer_or_default(None, body), Ok("La beca cubre la matrícula.".to_owned()));
        assert_eq!(short_answer_or_default(Some("  Sí.  "), body), Ok("Sí.".to_owned()));
    }

    #[test]
    fn supervisors_manage_their_units_kb_and_agents_propose() {
        let (mine, other) = (UnitId::new(), UnitId::new());
        let user = |role| Principal::User {
            id: UserId::new(),
            is_admin: false,
            memberships: vec![Membership { unit_id: mine, role }],
        };
        let supervisor = user(Role::Supervisor);
        assert!(supervisor.can_manage_kb(Some(mine)));
        assert!(!supervisor.can_manage_kb(Some(other)));
        assert!(!supervisor.can_manage_kb(None));
        let agent = user(Role::Agent);
        assert!(!agent.can_manage_kb(Some(mine)));
        assert!(agent.can_propose_kb_drafts(Some(mine)));
        assert!(!agent.can_propose_kb_drafts(Some(other)));
        assert!(agent.can_read_kb());
    }
}

//! The help center's HTML: one layout, escaped by construction, with the
//! knowledge base's theme, a locale switch and search-engine metadata.

use std::fmt::Write;

use crate::domain::kb::{KnowledgeBase, Locale};
use crate::i18n::t;

/// A page of its own outside the help center's layout (an unsubscribe
/// confirmation, a refused sign-in): plain HTML with the help center's
/// style, no script, strict headers. `main_attrs` go on `<main>` as
/// written (escape their values); `forms` lets it post to this server.
pub(crate) fn notice(
    status: actix_web::http::StatusCode,
    lang: &str,
    title: &str,
    main_attrs: &str,
    main: &str,
    forms: bool,
) -> actix_web::HttpResponse {
    use actix_web::http::header;
    let body = format!(
        "<!doctype html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"robots\" content=\"noindex\">\n<title>{title}</title>\n\
         <link rel=\"stylesheet\" href=\"/help/_/help.css\">\n</head>\n<body>\n<main {main_attrs}>\n\
         <h1>{title}</h1>\n{main}\n</main>\n</body>\n</html>\n",
        title = esc(title),
    );
    let form_action = if forms { "'self'" } else { "'none'" };
    actix_web::HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            format!(
                "default-src 'self'; style-src 'self'; script-src 'none'; form-action {form_action}; frame-ancestors 'none'"
            ),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("referrer-policy", "no-referrer"))
        .body(body)
}

/// Escapes text for HTML content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    crate::search::assess::escape_into(&mut out, text);
    out
}

/// Everything a page needs besides its main content.
pub struct Page<'a> {
    pub kb: &'a KnowledgeBase,
    pub locale: Locale,
    /// The page's own title; the base's name is appended.
    pub title: String,
    pub description: String,
    /// Path of this page, for the canonical link.
    pub path: String,
    /// The same page in other locales: the locale switch and hreflang links.
    pub alternates: Vec<(Locale, String)>,
    /// What the search box shows.
    pub query: String,
    /// schema.org data about the page, as JSON.
    pub json_ld: Option<serde_json::Value>,
    pub noindex: bool,
}

impl<'a> Page<'a> {
    /// A page with no alternates, an empty search box, no structured data,
    /// open to search engines.
    pub fn new(kb: &'a KnowledgeBase, locale: Locale, title: String, description: String, path: String) -> Self {
        Page {
            kb,
            locale,
            title,
            description,
            path,
            alternates: vec![],
            query: String::new(),
            json_ld: None,
            noindex: false,
        }
    }

    /// The whole document around `main` (already HTML).
    pub fn render(&self, main: &str, public_url: &str) -> String {
        let kb = self.kb;
        let l = self.locale.as_str();
        let home = home_path(kb, self.locale);
        let site = kb.theme.institution_name.clone().unwrap_or_else(|| kb.name.clone());
        let mut html = String::with_capacity(main.len() + 4096);
        let _ = write!(
            html,
            "<!doctype html>\n<html lang=\"{l}\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{title} · {name}</title>\n<meta name=\"description\" content=\"{description}\">\n\
             <link rel=\"canonical\" href=\"{public_url}{path}\">\n",
            title = esc(&self.title),
            name = esc(&kb.name),
            description = esc(&self.description),
            path = esc(&self.path),
        );
        for (locale, path) in &self.alternates {
            let _ = writeln!(html, "<link rel=\"alternate\" hreflang=\"{locale}\" href=\"{public_url}{}\">", esc(path));
        }
        if self.noindex {
            html.push_str("<meta name=\"robots\" content=\"noindex\">\n");
        }
        let _ = writeln!(html, "<meta property=\"og:title\" content=\"{}\">", esc(&self.title));
        let _ = writeln!(html, "<meta property=\"og:site_name\" content=\"{}\">", esc(&site));
        let _ = writeln!(html, "<link rel=\"stylesheet\" href=\"/help/_/help.css\">");
        // Colours are validated as #rrggbb when the theme is saved.
        let primary = kb.theme.primary_color.as_deref().unwrap_or("#0a3d62");
        let accent = kb.theme.accent_color.as_deref().unwrap_or("#f6b93b");
        let _ = writeln!(html, "<style>:root{{--primary:{};--accent:{}}}</style>", esc(primary), esc(accent));
        if let Some(data) = &self.json_ld {
            // `</` cannot close the script element when escaped this way.
            let json = data.to_string().replace("</", "<\\/");
            let _ = writeln!(html, "<script type=\"application/ld+json\">{json}</script>");
        }
        html.push_str("</head>\n<body>\n");
        let _ = writeln!(html, "<a class=\"skip\" href=\"#main\">{}</a>", esc(&t(l, "help.skip", &[])));
        html.push_str("<header class=\"site\"><div class=\"wrap\"><div class=\"topbar\">");
        let _ = write!(html, "<a class=\"brand\" href=\"{}\">", esc(&home));
        if let Some(logo) = &kb.theme.logo_url {
            let _ = write!(html, "<img src=\"{}\" alt=\"\">", esc(logo));
        }
        let _ = write!(html, "<span>{} · {}</span></a>", esc(&site), esc(&t(l, "help.title", &[])));
        self.locale_switch(&mut html);
        html.push_str("</div>");
        self.search_form(&mut html);
        html.push_str("</div></header>\n");
        let _ = writeln!(html, "<main id=\"main\" tabindex=\"-1\"><div class=\"wrap\">{main}</div></main>");
        let _ = writeln!(html, "<footer class=\"site\"><div class=\"wrap\">{}</div></footer>", esc(&kb.name));
        html.push_str("<script src=\"/help/_/help.js\" defer></script>\n</body>\n</html>\n");
        html
    }

    fn locale_switch(&self, html: &mut String) {
        let l = self.locale.as_str();
        let _ = write!(html, "<nav class=\"locales\" aria-label=\"{}\"><ul>", esc(&t(l, "help.language", &[])));
        for locale in Locale::ALL {
            let path = self
                .alternates
                .iter()
                .find(|(a, _)| *a == locale)
                .map(|(_, p)| p.clone())
                .unwrap_or_else(|| home_path(self.kb, locale));
            let current = if locale == self.locale { " aria-current=\"true\"" } else { "" };
            let name = match locale {
                Locale::Es => "Español",
                Locale::En => "English",
                Locale::Pt => "Português",
            };
            let _ = write!(
                html,
                "<li><a href=\"{}\" hreflang=\"{locale}\" lang=\"{locale}\"{current}>{name}</a></li>",
                esc(&path)
            );
        }
        html.push_str("</ul></nav>");
    }

    fn search_form(&self, html: &mut String) {
        let l = self.locale.as_str();
        let base = home_path(self.kb, self.locale);
        let _ = write!(
            html,
            "<form class=\"search\" role=\"search\" action=\"{base}/search\" method=\"get\">\
             <label for=\"q\" class=\"skip\">{label}</label>\
             <input id=\"q\" name=\"q\" type=\"search\" value=\"{query}\" placeholder=\"{placeholder}\" \
             autocomplete=\"off\" maxlength=\"300\" role=\"combobox\" aria-autocomplete=\"list\" \
             aria-expanded=\"false\" aria-controls=\"suggestions\" data-suggest=\"{base}/suggest\">\
             <button type=\"submit\">{button}</button>\
             <ul id=\"suggestions\" role=\"listbox\" aria-label=\"{suggestions}\" hidden></ul></form>",
            base = esc(&base),
            label = esc(&t(l, "help.search.label", &[])),
            query = esc(&self.query),
            placeholder = esc(&t(l, "help.search.placeholder", &[])),
            button = esc(&t(l, "help.search.button", &[])),
            suggestions = esc(&t(l, "help.search.suggestions", &[])),
        );
    }
}

/// The help center's home in a locale (`/help/{slug}` shows the base's own locale too).
pub fn home_path(kb: &KnowledgeBase, locale: Locale) -> String {
    format!("/help/{}/{}", kb.slug.as_str(), locale.as_str())
}

/// A card linking to an article, with a line of text under its title.
pub fn article_card(html: &mut String, url: &str, title: &str, text_html: &str) {
    let _ =
        write!(html, "<li class=\"card\"><h3><a href=\"{}\">{}</a></h3><p>{text_html}</p></li>", esc(url), esc(title));
}

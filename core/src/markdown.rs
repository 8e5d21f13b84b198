//! Article bodies: Markdown rendered to safe HTML, and to plain text for search.
//!
//! Raw HTML in the Markdown is shown as text, never passed through, and
//! links and images keep only http(s), mailto, tel and relative addresses.
//! With nothing raw getting through, no HTML sanitiser is needed afterwards.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd, html};

fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS
}

/// HTML for the help center and the console.
pub fn to_html(markdown: &str) -> String {
    let events = Parser::new_ext(markdown, options()).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
            Event::Start(Tag::Link { link_type, dest_url: safe_url(dest_url), title, id })
        }
        Event::Start(Tag::Image { link_type, dest_url, title, id }) => {
            Event::Start(Tag::Image { link_type, dest_url: safe_url(dest_url), title, id })
        }
        other => other,
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

/// The words of the body without markup, paragraphs on their own lines.
pub fn to_text(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    for event in Parser::new_ext(markdown, options()) {
        match event {
            Event::Text(text) | Event::Code(text) | Event::Html(text) | Event::InlineHtml(text) => out.push_str(&text),
            Event::SoftBreak | Event::HardBreak => out.push(' '),
            Event::End(
                TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::Item | TagEnd::TableRow | TagEnd::CodeBlock,
            ) => out.push('\n'),
            Event::End(TagEnd::TableCell) => out.push(' '),
            _ => {}
        }
    }
    out.trim().to_owned()
}

fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    let lower = url.trim().to_ascii_lowercase();
    let has_scheme = lower.split(['/', '?', '#']).next().is_some_and(|first| first.contains(':'));
    let allowed = ["http://", "https://", "mailto:", "tel:"].iter().any(|s| lower.starts_with(s));
    if has_scheme && !allowed { CowStr::Borrowed("#") } else { url }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_is_shown_not_run() {
        let html = to_html("Hola <script>alert(1)</script> **mundo**");
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("<strong>mundo</strong>"), "{html}");
        let block = to_html("<div onclick=\"x()\">hola</div>\n");
        assert!(!block.contains("<div"), "{block}");
    }

    #[test]
    fn dangerous_links_are_dropped() {
        assert!(to_html("[x](javascript:alert(1))").contains("href=\"#\""));
        assert!(to_html("[x](JavaScript:alert(1))").contains("href=\"#\""));
        assert!(to_html("![x](data:image/png;base64,AAAA)").contains("src=\"#\""));
        assert!(to_html("[x](https://uni.edu.co/becas)").contains("href=\"https://uni.edu.co/becas\""));
        assert!(to_html("[x](/help/becas)").contains("href=\"/help/becas\""));
        assert!(to_html("[x](mailto:becas@uni.edu.co)").contains("mailto:"));
    }

    #[test]
    fn plain_text_keeps_words_only() {
        let text = to_text("# Becas\n\nLa **beca** cubre la [matrícula](/m).\n\n- uno\n- dos");
        assert_eq!(text, "Becas\nLa beca cubre la matrícula.\nuno\ndos");
    }
}

//! What an incoming message means: a person's message for a case, or
//! nothing (a machine's).

use crate::Settings;
use ventanilla_sdk::mail_connector::ventanilla::plugin::clock;
use ventanilla_sdk::mail_connector::ventanilla::plugin::log::{self, Level};
use ventanilla_sdk::mail_connector::ventanilla::plugin::mail::{IncomingMail, MailMessage};

/// The message as new content for a case, unless a machine wrote it.
pub fn read(settings: &Settings, mail: IncomingMail) -> Option<MailMessage> {
    if let Some(why) = machine(&mail) {
        log::log(Level::Info, &format!("message {} dropped: {why}", mail.message_id));
        return None;
    }
    let from = mail.from.first()?;
    let sender = from.email.trim().to_ascii_lowercase();
    if sender == settings.address {
        log::log(Level::Info, "message from the help desk's own address dropped (a loop)");
        return None;
    }
    let subject = plain_subject(&mail.subject);
    let mut body = clean(&mail.text);
    if body.is_empty() && mail.attachments.is_empty() {
        body = if subject.is_empty() { "(sin texto)".into() } else { subject.clone() };
    }
    let id = if mail.message_id.is_empty() { made_up_id(&mail, &sender) } else { mail.message_id.clone() };
    // The message it answers first, then the rest of the conversation, newest first.
    let mut keys: Vec<String> = mail.in_reply_to.clone();
    keys.extend(mail.references.iter().rev().filter(|r| !mail.in_reply_to.contains(r)).cloned());
    if let Some(number) = case_token(&mail.subject) {
        keys.push(format!("case:{number}"));
    }
    if !subject.is_empty() {
        keys.push(format!("subject:{subject}"));
    }
    Some(MailMessage {
        provider_message_id: id,
        sender,
        sender_name: from.name.clone(),
        body,
        attachments: mail.attachments,
        sent_at: mail.sent_at.unwrap_or_else(clock::now_ms),
        thread_keys: keys,
    })
}

/// Why a machine wrote this, if one did: auto-replies (RFC 3834 and the
/// usual vendor headers), bounces and delivery reports, list mail.
fn machine(mail: &IncomingMail) -> Option<&'static str> {
    let header = |name: &str| mail.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_ascii_lowercase());
    if header("auto-submitted").is_some_and(|v| v.split(';').next().is_some_and(|v| v.trim() != "no")) {
        return Some("auto-submitted");
    }
    if header("precedence").is_some_and(|v| ["bulk", "junk", "list", "auto_reply"].contains(&v.as_str())) {
        return Some("bulk or auto-reply precedence");
    }
    if header("x-autoreply").is_some() || header("x-autorespond").is_some() {
        return Some("auto-reply");
    }
    if header("list-id").is_some() || header("list-unsubscribe").is_some() {
        return Some("mailing list");
    }
    if header("return-path").is_some_and(|v| v == "<>")
        || header("content-type").is_some_and(|v| v.starts_with("multipart/report"))
    {
        return Some("delivery report");
    }
    let from = mail.from.first().map(|a| a.email.to_ascii_lowercase()).unwrap_or_default();
    if from.starts_with("mailer-daemon@") || from.starts_with("postmaster@") {
        return Some("delivery report");
    }
    None
}

/// The person's new words: quoted history, the reply header before it, and
/// the signature cut off.
pub fn clean(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut end = lines.len();
    for i in 0..lines.len() {
        let line = lines[i].trim();
        let with_next = match lines.get(i + 1) {
            Some(next) => format!("{line} {}", next.trim()),
            None => line.to_owned(),
        };
        if line == "--" || lines[i] == "-- " || is_reply_header(line) || is_reply_header(&with_next) && !line.is_empty()
        {
            end = i;
            break;
        }
        if is_outlook_header(&lines[i..]) {
            end = i;
            break;
        }
    }
    let mut kept: Vec<&str> = lines[..end].to_vec();
    while kept.last().is_some_and(|l| l.trim().is_empty() || l.trim_start().starts_with('>')) {
        kept.pop();
    }
    kept.join("\n").trim().to_owned()
}

/// "El lun, 23 nov 2026 a las 10:00, Ana <ana@x.co> escribió:" and its
/// English and Portuguese forms.
fn is_reply_header(line: &str) -> bool {
    let lower = line.to_lowercase();
    let ends = |word: &str| lower.ends_with(word);
    (lower.starts_with("el ") && ends("escribió:"))
        || (lower.starts_with("on ") && ends("wrote:"))
        || (lower.starts_with("em ") && ends("escreveu:"))
        || lower.starts_with("-----original message-----")
        || lower.starts_with("-----mensaje original-----")
        || lower.starts_with("-----mensagem original-----")
}

/// Outlook's block: "De: ..." then "Enviado: ..." (or From / Sent).
fn is_outlook_header(lines: &[&str]) -> bool {
    let starts = |line: &str, words: &[&str]| {
        let lower = line.trim().to_lowercase();
        words.iter().any(|w| lower.starts_with(w))
    };
    lines.first().is_some_and(|l| starts(l, &["de:", "from:"]))
        && lines.iter().skip(1).take(3).any(|l| starts(l, &["enviado:", "sent:", "fecha:", "date:"]))
}

/// The case number in a subject's `[#123]` token.
pub fn case_token(subject: &str) -> Option<u64> {
    let start = subject.rfind("[#")?;
    let rest = &subject[start + 2..];
    let end = rest.find(']')?;
    rest[..end].trim().parse().ok()
}

/// The subject without reply and forward prefixes or the case token.
pub fn plain_subject(subject: &str) -> String {
    let mut text = subject.trim().to_owned();
    if let Some(start) = text.rfind("[#")
        && let Some(len) = text[start..].find(']')
    {
        text.replace_range(start..start + len + 1, "");
    }
    loop {
        let trimmed = text.trim_start();
        let lower = trimmed.to_lowercase();
        let prefix =
            ["re:", "rv:", "fw:", "fwd:", "enc:", "res:", "aw:", "tr:", "r:"].iter().find(|p| lower.starts_with(*p));
        match prefix {
            Some(p) => text = trimmed[p.len()..].to_owned(),
            None => break,
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An id for a message without a Message-ID, the same for every copy of it.
fn made_up_id(mail: &IncomingMail, sender: &str) -> String {
    // FNV-1a: stable and small; only copies of one message need to agree.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let seed = format!("{sender}\n{}\n{:?}\n{}", mail.subject, mail.sent_at, mail.text);
    for byte in seed.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("no-message-id-{hash:016x}@{}", sender.rsplit_once('@').map_or("unknown", |(_, d)| d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_history_and_signatures_are_cut() {
        let text = "Gracias, ya lo recibí.\n\nMaría\n-- \nMaría Pérez\nTel 300\n";
        assert_eq!(clean(text), "Gracias, ya lo recibí.\n\nMaría");
        let gmail = "Sí, mañana voy.\n\nEl lun, 23 nov 2026 a las 10:00, Ayuda UNI\n<ayuda@uni.edu.co> escribió:\n> ¿Puede venir?\n";
        assert_eq!(clean(gmail), "Sí, mañana voy.");
        let outlook =
            "Listo\n\nDe: Ayuda <ayuda@uni.edu.co>\nEnviado: lunes\nPara: yo\nAsunto: Re: x\n\nTexto anterior";
        assert_eq!(clean(outlook), "Listo");
        let english = "Thanks\nOn Mon, Nov 23, 2026 at 10:00 AM Help <h@x.co> wrote:\n> old";
        assert_eq!(clean(english), "Thanks");
        assert_eq!(clean("Hola\n> citado\n> más"), "Hola");
    }

    #[test]
    fn subjects_lose_prefixes_and_keep_their_case_token() {
        assert_eq!(case_token("Re: Certificado de notas [#123]"), Some(123));
        assert_eq!(case_token("Certificado"), None);
        assert_eq!(plain_subject("RE: Rv: Certificado de notas [#123]"), "Certificado de notas");
        assert_eq!(plain_subject("Fwd:   Pago"), "Pago");
        assert_eq!(plain_subject("Recibo de pago"), "Recibo de pago");
    }
}

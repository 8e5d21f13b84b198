//! A mail server stand-in for e-mail connector tests: SMTP submission on
//! 127.0.0.1 without TLS (the host allows that only for servers listed in
//! `plugins.private_hosts`), recording what it is given.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// One message submitted.
#[derive(Debug, Clone)]
pub struct Submitted {
    /// `user` and `password` of AUTH PLAIN.
    pub login: (String, String),
    pub from: String,
    pub recipients: Vec<String>,
    /// The message as written, dot-stuffing undone.
    pub data: String,
}

/// How the server answers the next submissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    /// 451 after DATA: try again later.
    Busy,
    /// 550 on RCPT: no such mailbox.
    NoSuchUser,
}

pub struct FakeSmtp {
    pub port: u16,
    pub password: String,
    submitted: Arc<Mutex<Vec<Submitted>>>,
    verdicts: Arc<Mutex<std::collections::VecDeque<Verdict>>>,
    _task: tokio::task::JoinHandle<()>,
}

impl FakeSmtp {
    /// Listens on a free port; AUTH succeeds with `password` only.
    pub async fn start(password: &str) -> anyhow::Result<FakeSmtp> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let submitted = Arc::new(Mutex::new(vec![]));
        let verdicts = Arc::new(Mutex::new(std::collections::VecDeque::new()));
        let (log, plan, expected) = (submitted.clone(), verdicts.clone(), password.to_owned());
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (log, plan, expected) = (log.clone(), plan.clone(), expected.clone());
                tokio::spawn(async move {
                    let _ = session(socket, log, plan, expected).await;
                });
            }
        });
        Ok(FakeSmtp { port, password: password.into(), submitted, verdicts, _task: task })
    }

    /// Answers the next submissions so, in order; then accepts again.
    pub fn answer(&self, verdicts: &[Verdict]) {
        if let Ok(mut plan) = self.verdicts.lock() {
            plan.extend(verdicts);
        }
    }

    pub fn submitted(&self) -> Vec<Submitted> {
        self.submitted.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

async fn session(
    socket: tokio::net::TcpStream,
    log: Arc<Mutex<Vec<Submitted>>>,
    plan: Arc<Mutex<std::collections::VecDeque<Verdict>>>,
    expected: String,
) -> anyhow::Result<()> {
    use base64::Engine as _;
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 fake.smtp ESMTP ready\r\n").await?;
    let mut login: Option<(String, String)> = None;
    let mut from = String::new();
    let mut recipients: Vec<String> = vec![];
    let mut verdict = Verdict::Accept;
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        let reply: String = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            "250-fake.smtp\r\n250-AUTH PLAIN\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n".into()
        } else if let Some(initial) = upper.strip_prefix("AUTH PLAIN ").map(|_| &command[11..]) {
            let decoded = base64::engine::general_purpose::STANDARD.decode(initial.trim()).unwrap_or_default();
            let parts: Vec<String> =
                decoded.split(|b| *b == 0).map(|p| String::from_utf8_lossy(p).into_owned()).collect();
            match parts.as_slice() {
                [_, user, password] if *password == expected => {
                    login = Some((user.clone(), password.clone()));
                    "235 2.7.0 Authentication successful\r\n".into()
                }
                _ => "535 5.7.8 Authentication credentials invalid\r\n".into(),
            }
        } else if upper.starts_with("MAIL FROM:") {
            if login.is_none() {
                "530 5.7.0 Authentication required\r\n".into()
            } else {
                from = address_of(&command);
                recipients.clear();
                verdict = plan.lock().ok().and_then(|mut p| p.pop_front()).unwrap_or(Verdict::Accept);
                "250 2.1.0 OK\r\n".into()
            }
        } else if upper.starts_with("RCPT TO:") {
            if verdict == Verdict::NoSuchUser {
                "550 5.1.1 No such user here\r\n".into()
            } else {
                recipients.push(address_of(&command));
                "250 2.1.5 OK\r\n".into()
            }
        } else if upper == "DATA" {
            write.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await?;
            let mut data = String::new();
            loop {
                let mut line = String::new();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            if verdict == Verdict::Busy {
                "451 4.3.0 Try again later\r\n".into()
            } else {
                let submitted = Submitted {
                    login: login.clone().unwrap_or_default(),
                    from: from.clone(),
                    recipients: recipients.clone(),
                    data,
                };
                if let Ok(mut log) = log.lock() {
                    log.push(submitted);
                }
                "250 2.0.0 Queued\r\n".into()
            }
        } else if upper == "RSET" || upper == "NOOP" {
            "250 2.0.0 OK\r\n".into()
        } else if upper == "QUIT" {
            write.write_all(b"221 2.0.0 Bye\r\n").await?;
            return Ok(());
        } else {
            "502 5.5.2 Command not recognized\r\n".into()
        };
        write.write_all(reply.as_bytes()).await?;
    }
}

/// The address in `MAIL FROM:<a@b> ...`.
fn address_of(command: &str) -> String {
    let start = command.find('<').map_or(0, |i| i + 1);
    let end = command[start..].find('>').map_or(command.len(), |i| start + i);
    command[start..end].to_owned()
}

/// One message in the IMAP stand-in's folder.
#[derive(Debug, Clone)]
pub struct Stored {
    pub uid: u32,
    pub raw: Vec<u8>,
    pub seen: bool,
}

/// An IMAP server stand-in: one folder, `INBOX`, on 127.0.0.1 without TLS;
/// LOGIN, SELECT, UID SEARCH (UNSEEN or a UID range), UID FETCH of whole
/// messages, UID STORE of the seen flag, LOGOUT.
pub struct FakeImap {
    pub port: u16,
    folder: Arc<Mutex<Vec<Stored>>>,
    logins: Arc<std::sync::atomic::AtomicUsize>,
    _task: tokio::task::JoinHandle<()>,
}

impl FakeImap {
    /// Listens on a free port; LOGIN succeeds with `password` only.
    pub async fn start(password: &str) -> anyhow::Result<FakeImap> {
        FakeImap::listen(password, None).await
    }

    /// Like [`FakeImap::start`], but LOGIN is refused until the client has
    /// turned the connection into TLS with STARTTLS; the certificate
    /// (`localhost`) is signed by `tests/fixtures/tls/ca.pem`, not a public CA.
    pub async fn start_tls(password: &str) -> anyhow::Result<FakeImap> {
        FakeImap::listen(password, Some(tls_acceptor()?)).await
    }

    async fn listen(password: &str, tls: Option<tokio_rustls::TlsAcceptor>) -> anyhow::Result<FakeImap> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let folder = Arc::new(Mutex::new(vec![]));
        let logins = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (shared, counted, expected) = (folder.clone(), logins.clone(), password.to_owned());
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (shared, counted, expected) = (shared.clone(), counted.clone(), expected.clone());
                let tls = tls.clone();
                tokio::spawn(async move {
                    let _ = match tls {
                        None => imap_session(socket, shared, counted, expected, true).await,
                        Some(tls) => match starttls(socket, &tls).await {
                            Ok(Some(secure)) => imap_session(secure, shared, counted, expected, false).await,
                            Ok(None) => Ok(()),
                            Err(e) => Err(e),
                        },
                    };
                });
            }
        });
        Ok(FakeImap { port, folder, logins, _task: task })
    }

    /// Puts a message in the folder, unread; returns its UID.
    pub fn deliver(&self, raw: &str) -> u32 {
        let mut folder = self.folder.lock().unwrap_or_else(|e| e.into_inner());
        let uid = folder.last().map_or(1, |m| m.uid + 1);
        folder.push(Stored { uid, raw: raw.as_bytes().to_vec(), seen: false });
        uid
    }

    /// Puts a message in the folder already read (by a person, say).
    pub fn deliver_seen(&self, raw: &str) -> u32 {
        let uid = self.deliver(raw);
        if let Some(m) = self.folder.lock().unwrap_or_else(|e| e.into_inner()).iter_mut().find(|m| m.uid == uid) {
            m.seen = true;
        }
        uid
    }

    pub fn folder(&self) -> Vec<Stored> {
        self.folder.lock().map(|f| f.clone()).unwrap_or_default()
    }

    /// Successful logins so far.
    pub fn logins(&self) -> usize {
        self.logins.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The words of an IMAP command line, quoted strings unquoted.
fn imap_words(line: &str) -> Vec<String> {
    let mut words = vec![];
    let mut chars = line.trim_end().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' => {}
            '"' => {
                let mut word = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => word.extend(chars.next()),
                        '"' => break,
                        c => word.push(c),
                    }
                }
                words.push(word);
            }
            c => {
                let mut word = c.to_string();
                while let Some(&c) = chars.peek() {
                    if c == ' ' {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                words.push(word);
            }
        }
    }
    words
}

/// The UIDs a set such as `3`, `1:4`, `5:*` or `1,3` names in the folder;
/// as on real servers, `5:*` with 4 the highest UID names 4.
fn uid_set(set: &str, folder: &[Stored]) -> Vec<u32> {
    let max = folder.last().map_or(0, |m| m.uid);
    let mut uids = vec![];
    for range in set.split(',') {
        let bound = |s: &str| if s == "*" { max } else { s.parse().unwrap_or(0) };
        let (from, to) = match range.split_once(':') {
            Some((a, b)) => (bound(a).min(bound(b)), bound(a).max(bound(b))),
            None => (bound(range), bound(range)),
        };
        uids.extend(folder.iter().map(|m| m.uid).filter(|uid| (from..=to).contains(uid)));
    }
    uids
}

/// The test CA's certificate for `localhost` (tests/fixtures/tls).
fn tls_acceptor() -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    use tokio_rustls::rustls::{
        self,
        pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tls");
    let certs = CertificateDer::pem_file_iter(dir.join("localhost.pem"))?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(dir.join("localhost.key"))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// The clear-text part of a STARTTLS server: only CAPABILITY and STARTTLS
/// (LOGIN is refused in the clear). Returns the TLS connection, or `None`
/// when the client left without one.
async fn starttls(
    socket: tokio::net::TcpStream,
    tls: &tokio_rustls::TlsAcceptor,
) -> anyhow::Result<Option<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>> {
    let mut socket = BufReader::new(socket);
    socket.get_mut().write_all(b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] fake IMAP ready\r\n").await?;
    loop {
        let mut line = String::new();
        if socket.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let words = imap_words(&line);
        let (Some(tag), Some(command)) = (words.first(), words.get(1)) else { continue };
        let answer = match command.to_ascii_uppercase().as_str() {
            "CAPABILITY" => format!("* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n{tag} OK done\r\n"),
            "STARTTLS" => {
                socket.get_mut().write_all(format!("{tag} OK Begin TLS negotiation now\r\n").as_bytes()).await?;
                return Ok(Some(tls.accept(socket.into_inner()).await?));
            }
            "LOGIN" => format!("{tag} NO [PRIVACYREQUIRED] STARTTLS first\r\n"),
            "LOGOUT" => return Ok(None),
            _ => format!("{tag} BAD STARTTLS first\r\n"),
        };
        socket.get_mut().write_all(answer.as_bytes()).await?;
    }
}

async fn imap_session<S>(
    socket: S,
    folder: Arc<Mutex<Vec<Stored>>>,
    logins: Arc<std::sync::atomic::AtomicUsize>,
    expected: String,
    greet: bool,
) -> anyhow::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (read, mut write) = tokio::io::split(socket);
    let mut lines = BufReader::new(read);
    if greet {
        write.write_all(b"* OK [CAPABILITY IMAP4rev1] fake IMAP ready\r\n").await?;
    }
    let mut logged_in = false;
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let words = imap_words(&line);
        let (Some(tag), Some(command)) = (words.first(), words.get(1)) else { continue };
        let command = command.to_ascii_uppercase();
        let sub = words.get(2).map(|w| w.to_ascii_uppercase()).unwrap_or_default();
        let snapshot = folder.lock().map(|f| f.clone()).unwrap_or_default();
        let mut out: Vec<u8> = vec![];
        match (command.as_str(), sub.as_str()) {
            ("CAPABILITY", _) => out.extend(format!("* CAPABILITY IMAP4rev1\r\n{tag} OK done\r\n").bytes()),
            ("LOGIN", _) => {
                if words.get(3) == Some(&expected) {
                    logged_in = true;
                    logins.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    out.extend(format!("{tag} OK LOGIN completed\r\n").bytes());
                } else {
                    out.extend(format!("{tag} NO [AUTHENTICATIONFAILED] Invalid credentials\r\n").bytes());
                }
            }
            _ if !logged_in && command != "LOGOUT" => {
                out.extend(format!("{tag} BAD log in first\r\n").bytes());
            }
            ("SELECT", _) | ("EXAMINE", _) => {
                let next = snapshot.last().map_or(1, |m| m.uid + 1);
                out.extend(
                    format!(
                        "* FLAGS (\\Seen)\r\n* {} EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 7] UIDs valid\r\n\
* OK [UIDNEXT {next}] next\r\n{tag} OK [READ-WRITE] SELECT completed\r\n",
                        snapshot.len()
                    )
                    .bytes(),
                );
            }
            ("UID", "SEARCH") => {
                let criteria = words.get(3).map(|w| w.to_ascii_uppercase()).unwrap_or_default();
                let uids: Vec<u32> = match criteria.as_str() {
                    "UNSEEN" => snapshot.iter().filter(|m| !m.seen).map(|m| m.uid).collect(),
                    "UID" => uid_set(words.get(4).map_or("", String::as_str), &snapshot),
                    _ => vec![],
                };
                let listed: Vec<String> = uids.iter().map(u32::to_string).collect();
                out.extend(format!("* SEARCH {}\r\n{tag} OK SEARCH completed\r\n", listed.join(" ")).bytes());
            }
            ("UID", "FETCH") => {
                for uid in uid_set(words.get(3).map_or("", String::as_str), &snapshot) {
                    let Some((n, message)) = snapshot.iter().enumerate().find(|(_, m)| m.uid == uid) else { continue };
                    out.extend(
                        format!(
                            "* {} FETCH (UID {uid} RFC822.SIZE {} BODY[] {{{}}}\r\n",
                            n + 1,
                            message.raw.len(),
                            message.raw.len()
                        )
                        .bytes(),
                    );
                    out.extend(&message.raw);
                    out.extend(b")\r\n");
                }
                out.extend(format!("{tag} OK FETCH completed\r\n").bytes());
            }
            ("UID", "STORE") => {
                let uids = uid_set(words.get(3).map_or("", String::as_str), &snapshot);
                if let Ok(mut folder) = folder.lock() {
                    for message in folder.iter_mut().filter(|m| uids.contains(&m.uid)) {
                        message.seen = true;
                    }
                }
                out.extend(format!("{tag} OK STORE completed\r\n").bytes());
            }
            ("NOOP", _) => out.extend(format!("{tag} OK NOOP completed\r\n").bytes()),
            ("LOGOUT", _) => {
                write.write_all(format!("* BYE logging out\r\n{tag} OK LOGOUT completed\r\n").as_bytes()).await?;
                return Ok(());
            }
            _ => out.extend(format!("{tag} BAD unknown command\r\n").bytes()),
        }
        write.write_all(&out).await?;
    }
}

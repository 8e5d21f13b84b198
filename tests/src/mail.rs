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

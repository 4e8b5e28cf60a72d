//! The mail sink's side of SMTP (RFC 5321), as a state machine without IO: the connection feeds
//! it lines (without their line ending) and sends back the replies it returns. Only what a sink
//! needs: HELO/EHLO, MAIL, RCPT, DATA (with dot-unstuffing), RSET, NOOP, VRFY, HELP and QUIT; no
//! TLS and no AUTH, which it refuses rather than pretends to. Limits follow the RFC: command lines
//! of 512 octets, text lines of 1000, 100 recipients, and a message size the EHLO reply announces.

/// What one session accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Octets of a command line, line ending included (RFC 5321 §4.5.3.1.4).
    pub max_command_line: usize,
    /// Octets of a line of message text, line ending included (§4.5.3.1.6).
    pub max_text_line: usize,
    pub max_message_bytes: usize,
    /// Recipients of one message (§4.5.3.1.8).
    pub max_recipients: usize,
    /// Refused commands after which the sink hangs up on a client that is not speaking SMTP.
    pub max_errors: u32,
}

impl Limits {
    pub fn new(max_message_bytes: usize) -> Self {
        Self { max_command_line: 512, max_text_line: 1000, max_message_bytes, max_recipients: 100, max_errors: 10 }
    }
}

/// A reply: a code and one or more lines of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    fn new(code: u16, text: impl Into<String>) -> Self {
        Self { code, lines: vec![text.into()] }
    }

    /// On the wire: `250-first`, ..., `250 last`, each ending in CRLF.
    pub fn render(&self) -> String {
        let last = self.lines.len().saturating_sub(1);
        let mut out = String::new();
        for (i, line) in self.lines.iter().enumerate() {
            let separator = if i == last { ' ' } else { '-' };
            out.push_str(&format!("{}{separator}{line}\r\n", self.code));
        }
        out
    }

    pub fn is_error(&self) -> bool {
        self.code >= 400
    }
}

/// A message the client finished sending: its envelope and its content, unstuffed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The reverse path (`MAIL FROM`); empty for the null sender `<>`.
    pub from: String,
    pub to: Vec<String>,
    /// Header and body, each line ending in CRLF.
    pub data: Vec<u8>,
}

/// What the connection does after a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send the reply, read on.
    Reply(Reply),
    /// A line of message text: nothing to send.
    Silent,
    /// Send the reply and hang up.
    Close(Reply),
    /// A message is complete: store it, then send [`Session::stored`] or [`Session::not_stored`].
    Deliver(Mail),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Connected; waiting for HELO or EHLO.
    Connected,
    /// Greeted; no transaction open.
    Ready,
    /// MAIL accepted; waiting for RCPT.
    Mail,
    /// At least one RCPT accepted.
    Recipients,
    /// Reading message text until a lone ".".
    Data,
}

/// Why a message being read is refused when its end arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataError {
    TooBig,
    LineTooLong,
}

/// One SMTP session, from greeting to QUIT.
#[derive(Debug, Clone)]
pub struct Session {
    hostname: String,
    limits: Limits,
    phase: Phase,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
    data_error: Option<DataError>,
    errors: u32,
}

impl Session {
    pub fn new(hostname: &str, limits: Limits) -> Self {
        Self {
            hostname: hostname.to_owned(),
            limits,
            phase: Phase::Connected,
            from: String::new(),
            to: Vec::new(),
            data: Vec::new(),
            data_error: None,
            errors: 0,
        }
    }

    pub fn greeting(&self) -> Reply {
        Reply::new(220, format!("{} ESMTP Flotilla mail sink", self.hostname))
    }

    /// The longest line the connection should read now, line ending included.
    pub fn max_line(&self) -> usize {
        if self.phase == Phase::Data { self.limits.max_text_line } else { self.limits.max_command_line }
    }

    /// A line the client sent, without its CRLF (or bare LF).
    pub fn line(&mut self, line: &[u8]) -> Step {
        if self.phase == Phase::Data {
            return self.text(line);
        }
        self.command(line)
    }

    /// The client sent a line longer than [`Session::max_line`]; the connection dropped the rest of it.
    pub fn line_too_long(&mut self) -> Step {
        if self.phase == Phase::Data {
            self.data_error.get_or_insert(DataError::LineTooLong);
            return Step::Silent;
        }
        self.refuse(500, "5.5.2 Line too long")
    }

    /// The message handed over by [`Step::Deliver`] is stored under `id`.
    pub fn stored(&self, id: &str) -> Reply {
        Reply::new(250, format!("2.0.0 OK: queued as {id}"))
    }

    /// The message could not be stored; the client should try again later.
    pub fn not_stored(&self) -> Reply {
        Reply::new(451, "4.3.0 Cannot store the message now; try again later")
    }

    /// The client said nothing for too long.
    pub fn timed_out(&self) -> Reply {
        Reply::new(421, format!("4.4.2 {} Idle for too long, closing connection", self.hostname))
    }

    /// The sink is stopping.
    pub fn shutting_down(&self) -> Reply {
        Reply::new(421, format!("4.3.2 {} Service shutting down, closing connection", self.hostname))
    }

    /// Sent instead of a greeting when the sink has as many connections as it takes.
    pub fn busy(hostname: &str) -> Reply {
        Reply::new(421, format!("4.3.2 {hostname} Too many connections, try again later"))
    }

    fn command(&mut self, line: &[u8]) -> Step {
        let Ok(text) = std::str::from_utf8(line) else {
            return self.refuse(500, "5.5.2 The command is not text");
        };
        let (verb, argument) = match text.split_once(' ') {
            Some((verb, argument)) => (verb, argument.trim()),
            None => (text, ""),
        };
        match verb.to_ascii_uppercase().as_str() {
            "HELO" => self.hello(argument, false),
            "EHLO" => self.hello(argument, true),
            "MAIL" => self.mail(argument),
            "RCPT" => self.rcpt(argument),
            "DATA" => self.data(argument),
            "RSET" if argument.is_empty() => {
                self.reset();
                if self.phase != Phase::Connected {
                    self.phase = Phase::Ready;
                }
                Step::Reply(Reply::new(250, "2.0.0 OK"))
            }
            "NOOP" => Step::Reply(Reply::new(250, "2.0.0 OK")),
            "QUIT" if argument.is_empty() => Step::Close(Reply::new(221, format!("2.0.0 {} Bye", self.hostname))),
            "VRFY" => Step::Reply(Reply::new(252, "2.1.5 Cannot VRFY user, but will accept the message")),
            "HELP" => Step::Reply(Reply::new(214, "2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP VRFY QUIT")),
            "RSET" | "QUIT" => self.refuse(501, "5.5.4 No arguments allowed"),
            "STARTTLS" | "AUTH" | "EXPN" | "TURN" | "ETRN" | "BDAT" => {
                self.refuse(502, "5.5.1 Command not implemented")
            }
            "" => self.refuse(500, "5.5.2 Empty command"),
            _ => self.refuse(500, "5.5.1 Command unrecognized"),
        }
    }

    fn hello(&mut self, domain: &str, extended: bool) -> Step {
        if domain.is_empty() || domain.contains(char::is_whitespace) {
            return self.refuse(501, "5.5.4 Syntax: EHLO domain");
        }
        self.reset();
        self.phase = Phase::Ready;
        let greets = format!("{} greets {domain}", self.hostname);
        if !extended {
            return Step::Reply(Reply::new(250, greets));
        }
        // PIPELINING is honest: every line is answered in order, whatever arrived with it.
        let lines = vec![
            greets,
            format!("SIZE {}", self.limits.max_message_bytes),
            "8BITMIME".into(),
            "SMTPUTF8".into(),
            "PIPELINING".into(),
            "ENHANCEDSTATUSCODES".into(),
        ];
        Step::Reply(Reply { code: 250, lines })
    }

    fn mail(&mut self, argument: &str) -> Step {
        match self.phase {
            Phase::Connected => return self.refuse(503, "5.5.1 Send HELO or EHLO first"),
            Phase::Mail | Phase::Recipients => return self.refuse(503, "5.5.1 Nested MAIL command"),
            Phase::Ready | Phase::Data => {}
        }
        let Some((path, parameters)) = prefixed(argument, "FROM:").and_then(split_path) else {
            return self.refuse(501, "5.5.4 Syntax: MAIL FROM:<address>");
        };
        if !path.is_empty() && !is_address(path) {
            return self.refuse(501, "5.1.7 Bad sender address syntax");
        }
        for parameter in parameters.split_whitespace() {
            let (key, value) = parameter.split_once('=').unwrap_or((parameter, ""));
            match key.to_ascii_uppercase().as_str() {
                "SIZE" => match value.parse::<usize>() {
                    Ok(size) if size > self.limits.max_message_bytes => {
                        return self.refuse(552, "5.3.4 Message size exceeds fixed maximum message size");
                    }
                    Ok(_) => {}
                    Err(_) => return self.refuse(501, "5.5.4 Bad SIZE parameter"),
                },
                "BODY" if ["7BIT", "8BITMIME"].iter().any(|b| value.eq_ignore_ascii_case(b)) => {}
                "SMTPUTF8" if value.is_empty() => {}
                _ => return self.refuse(555, "5.5.4 MAIL parameter not recognized"),
            }
        }
        self.from = path.to_owned();
        self.phase = Phase::Mail;
        Step::Reply(Reply::new(250, "2.1.0 Sender OK"))
    }

    fn rcpt(&mut self, argument: &str) -> Step {
        if !matches!(self.phase, Phase::Mail | Phase::Recipients) {
            return self.refuse(503, "5.5.1 Need MAIL before RCPT");
        }
        let Some((path, parameters)) = prefixed(argument, "TO:").and_then(split_path) else {
            return self.refuse(501, "5.5.4 Syntax: RCPT TO:<address>");
        };
        if !parameters.is_empty() {
            return self.refuse(555, "5.5.4 RCPT parameters not recognized");
        }
        if !(is_address(path) || path.eq_ignore_ascii_case("postmaster")) {
            return self.refuse(501, "5.1.3 Bad recipient address syntax");
        }
        if self.to.len() >= self.limits.max_recipients {
            return Step::Reply(Reply::new(452, "4.5.3 Too many recipients"));
        }
        self.to.push(path.to_owned());
        self.phase = Phase::Recipients;
        Step::Reply(Reply::new(250, "2.1.5 Recipient OK"))
    }

    fn data(&mut self, argument: &str) -> Step {
        if !argument.is_empty() {
            return self.refuse(501, "5.5.4 No arguments allowed");
        }
        if self.phase != Phase::Recipients {
            return self.refuse(503, "5.5.1 Need RCPT before DATA");
        }
        self.phase = Phase::Data;
        Step::Reply(Reply::new(354, "End data with <CR><LF>.<CR><LF>"))
    }

    fn text(&mut self, line: &[u8]) -> Step {
        if line == b"." {
            let error = self.data_error;
            let mail = Mail {
                from: std::mem::take(&mut self.from),
                to: std::mem::take(&mut self.to),
                data: std::mem::take(&mut self.data),
            };
            self.reset();
            self.phase = Phase::Ready;
            return match error {
                Some(DataError::TooBig) => {
                    Step::Reply(Reply::new(552, "5.3.4 Message size exceeds fixed maximum message size"))
                }
                Some(DataError::LineTooLong) => Step::Reply(Reply::new(500, "5.5.6 Message line too long")),
                None => Step::Deliver(mail),
            };
        }
        // Transparency (RFC 5321 §4.5.2): the client doubled every leading dot.
        let line = line.strip_prefix(b".").unwrap_or(line);
        if self.data_error.is_none() {
            if self.data.len() + line.len() + 2 > self.limits.max_message_bytes {
                self.data_error = Some(DataError::TooBig);
                self.data = Vec::new();
            } else {
                self.data.extend_from_slice(line);
                self.data.extend_from_slice(b"\r\n");
            }
        }
        Step::Silent
    }

    /// Forgets the transaction in progress (not the greeting).
    fn reset(&mut self) {
        self.from.clear();
        self.to.clear();
        self.data.clear();
        self.data_error = None;
    }

    /// A refused command; too many of them and the client is not speaking SMTP: hang up.
    fn refuse(&mut self, code: u16, text: &str) -> Step {
        self.errors += 1;
        if self.errors >= self.limits.max_errors {
            return Step::Close(Reply::new(
                421,
                format!("4.7.0 {} Too many errors, closing connection", self.hostname),
            ));
        }
        Step::Reply(Reply::new(code, text))
    }
}

/// `argument` after `prefix` (case-insensitive), with the optional space some clients put after the colon.
fn prefixed<'a>(argument: &'a str, prefix: &str) -> Option<&'a str> {
    let head = argument.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| argument[prefix.len()..].trim_start())
}

/// `<path> parameters` into the path (without brackets) and the parameters.
fn split_path(rest: &str) -> Option<(&str, &str)> {
    let inner = rest.strip_prefix('<')?;
    let end = inner.find('>')?;
    Some((&inner[..end], inner[end + 1..].trim()))
}

/// A plausible mailbox: `local@domain`, both parts present, no spaces, brackets or controls.
fn is_address(path: &str) -> bool {
    let Some((local, domain)) = path.rsplit_once('@') else { return false };
    !local.is_empty()
        && !domain.is_empty()
        && path.len() <= 254
        && !path.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ','))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session::new("sink.test", Limits::new(200))
    }

    fn reply(step: Step) -> Reply {
        match step {
            Step::Reply(reply) | Step::Close(reply) => reply,
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    fn code(session: &mut Session, line: &str) -> u16 {
        reply(session.line(line.as_bytes())).code
    }

    fn ready() -> Session {
        let mut s = session();
        assert_eq!(code(&mut s, "EHLO client.test"), 250);
        s
    }

    #[test]
    fn a_whole_conversation_delivers_one_unstuffed_message() {
        let mut s = session();
        assert_eq!(s.greeting().render(), "220 sink.test ESMTP Flotilla mail sink\r\n");
        let ehlo = reply(s.line(b"ehlo client.test"));
        assert!(ehlo.render().starts_with("250-sink.test greets client.test\r\n250-SIZE 200\r\n"));
        assert!(ehlo.render().ends_with("250 ENHANCEDSTATUSCODES\r\n"));
        assert_eq!(code(&mut s, "MAIL FROM:<shop@example.com> BODY=8BITMIME SIZE=100"), 250);
        assert_eq!(code(&mut s, "RCPT TO:<ada@example.com>"), 250);
        assert_eq!(code(&mut s, "rcpt to: <bob@example.com>"), 250);
        assert_eq!(code(&mut s, "DATA"), 354);
        for line in ["Subject: hi", "", "..leading dot", ".", ""] {
            let step = s.line(line.as_bytes());
            if line == "." {
                let Step::Deliver(mail) = step else { panic!("{step:?}") };
                assert_eq!(mail.from, "shop@example.com");
                assert_eq!(mail.to, vec!["ada@example.com", "bob@example.com"]);
                assert_eq!(mail.data, b"Subject: hi\r\n\r\n.leading dot\r\n");
                assert_eq!(s.stored("m1").code, 250);
                break;
            }
            assert_eq!(step, Step::Silent);
        }
        assert_eq!(code(&mut s, "MAIL FROM:<>"), 250, "a new transaction, with the null sender");
        assert_eq!(s.line(b"QUIT"), Step::Close(Reply::new(221, "2.0.0 sink.test Bye")));
    }

    #[test]
    fn commands_out_of_order_are_refused_with_503() {
        let mut s = session();
        assert_eq!(code(&mut s, "MAIL FROM:<a@b.c>"), 503, "before HELO");
        assert_eq!(code(&mut s, "HELO client.test"), 250);
        assert_eq!(code(&mut s, "RCPT TO:<a@b.c>"), 503, "before MAIL");
        assert_eq!(code(&mut s, "DATA"), 503, "before RCPT");
        assert_eq!(code(&mut s, "MAIL FROM:<a@b.c>"), 250);
        assert_eq!(code(&mut s, "MAIL FROM:<a@b.c>"), 503, "nested");
        assert_eq!(code(&mut s, "DATA"), 503, "no recipient yet");
        assert_eq!(code(&mut s, "RSET"), 250);
        assert_eq!(code(&mut s, "RCPT TO:<a@b.c>"), 503, "RSET ended the transaction");
    }

    #[test]
    fn malformed_commands_get_5xx_and_change_nothing() {
        let mut s = Session::new("sink.test", Limits { max_errors: 100, ..Limits::new(200) });
        assert_eq!(code(&mut s, "EHLO client.test"), 250);
        assert_eq!(code(&mut s, "HELO"), 501);
        assert_eq!(code(&mut s, "FROB"), 500);
        assert_eq!(code(&mut s, ""), 500);
        assert_eq!(reply(s.line(&[0xff, 0xfe])).code, 500);
        assert_eq!(code(&mut s, "MAIL FROM:a@b.c"), 501, "no brackets");
        assert_eq!(code(&mut s, "MAIL TO:<a@b.c>"), 501);
        assert_eq!(code(&mut s, "MAIL FROM:<not an address>"), 501);
        assert_eq!(code(&mut s, "MAIL FROM:<a@b.c> SIZE=x"), 501);
        assert_eq!(code(&mut s, "MAIL FROM:<a@b.c> FROB=1"), 555);
        assert_eq!(code(&mut s, "MAIL FROM:<a@b.c> SIZE=201"), 552, "announced too big");
        assert_eq!(code(&mut s, "STARTTLS"), 502);
        assert_eq!(code(&mut s, "MAIL FROM:<a@b.c>"), 250, "still ready after the refusals");
        assert_eq!(code(&mut s, "RCPT TO:<nobody>"), 501);
        assert_eq!(code(&mut s, "RCPT TO:<Postmaster>"), 250);
        assert_eq!(code(&mut s, "DATA now"), 501);
        assert_eq!(code(&mut s, "NOOP"), 250);
        assert_eq!(code(&mut s, "VRFY ada"), 252);
    }

    #[test]
    fn too_many_errors_end_the_session() {
        let mut s = session();
        for _ in 0..9 {
            assert!(matches!(s.line(b"GET / HTTP/1.1"), Step::Reply(r) if r.code == 500));
        }
        assert!(matches!(s.line(b"GET / HTTP/1.1"), Step::Close(r) if r.code == 421));
    }

    #[test]
    fn an_overlong_command_is_refused_and_an_overlong_text_line_refuses_the_message() {
        let mut s = ready();
        assert_eq!(s.max_line(), 512);
        assert_eq!(reply(s.line_too_long()).code, 500);
        s.line(b"MAIL FROM:<a@b.c>");
        s.line(b"RCPT TO:<d@e.f>");
        s.line(b"DATA");
        assert_eq!(s.max_line(), 1000);
        assert_eq!(s.line_too_long(), Step::Silent);
        assert_eq!(s.line(b"more"), Step::Silent);
        assert_eq!(reply(s.line(b".")).code, 500);
        assert_eq!(code(&mut s, "MAIL FROM:<a@b.c>"), 250, "ready for the next message");
    }

    #[test]
    fn a_message_beyond_the_size_limit_is_refused_with_552() {
        let mut s = ready();
        s.line(b"MAIL FROM:<a@b.c>");
        s.line(b"RCPT TO:<d@e.f>");
        s.line(b"DATA");
        let line = [b'x'; 150];
        assert_eq!(s.line(&line), Step::Silent);
        assert_eq!(s.line(&line), Step::Silent);
        assert_eq!(reply(s.line(b".")).code, 552);
    }

    #[test]
    fn recipients_are_bounded() {
        let mut s = Session::new("sink.test", Limits { max_recipients: 2, ..Limits::new(100) });
        s.line(b"HELO c");
        s.line(b"MAIL FROM:<a@b.c>");
        assert_eq!(code(&mut s, "RCPT TO:<1@b.c>"), 250);
        assert_eq!(code(&mut s, "RCPT TO:<2@b.c>"), 250);
        assert_eq!(code(&mut s, "RCPT TO:<3@b.c>"), 452);
    }

    #[test]
    fn replies_render_as_smtp_lines() {
        let r = Reply { code: 250, lines: vec!["a".into(), "b".into()] };
        assert_eq!(r.render(), "250-a\r\n250 b\r\n");
        assert!(!r.is_error());
        assert!(Session::busy("h").is_error());
    }
}

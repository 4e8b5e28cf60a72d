//! What the mail sink makes of a message it received (RFC 5322 and the bits of MIME that plain
//! text needs): its Subject (RFC 2047 encoded words decoded), Message-ID and body (quoted-printable
//! or base64 decoded). A multipart body is kept as it arrived: the sink shows mail, it does not
//! render it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

/// A received message, read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parsed {
    pub subject: Option<String>,
    pub message_id: Option<String>,
    pub body: String,
}

pub fn parse(data: &[u8]) -> Parsed {
    let text = String::from_utf8_lossy(data);
    let (head, body) = match text.find("\r\n\r\n") {
        Some(at) => (&text[..at], &text[at + 4..]),
        None => match text.find("\n\n") {
            Some(at) => (&text[..at], &text[at + 2..]),
            None => (text.as_ref(), ""),
        },
    };
    let headers = unfold(head);
    let header =
        |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_owned());
    let encoding = header("Content-Transfer-Encoding").unwrap_or_default().to_ascii_lowercase();
    let body = match encoding.as_str() {
        "quoted-printable" => String::from_utf8_lossy(&quoted_printable(body.as_bytes(), false)).into_owned(),
        "base64" => {
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            B64.decode(compact).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_else(|_| body.to_owned())
        }
        _ => body.to_owned(),
    };
    Parsed {
        subject: header("Subject").map(|s| decode_words(&s)),
        message_id: header("Message-ID"),
        body: body.replace("\r\n", "\n"),
    }
}

/// Header fields as (name, value), continuation lines joined (RFC 5322 §2.2.3).
fn unfold(head: &str) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push_str(line);
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_owned(), value.to_owned()));
        }
    }
    fields
}

/// Quoted-printable (RFC 2045 §6.7); `underscores` is the Q encoding of RFC 2047, where `_` is a space.
fn quoted_printable(input: &[u8], underscores: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'=' => {
                let rest = &input[i + 1..];
                if rest.starts_with(b"\r\n") {
                    i += 3; // a soft line break
                    continue;
                }
                if rest.starts_with(b"\n") {
                    i += 2;
                    continue;
                }
                let hex = rest
                    .get(..2)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 3;
                    }
                    None => {
                        out.push(b'=');
                        i += 1;
                    }
                }
            }
            b'_' if underscores => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

/// A header value with its `=?charset?B|Q?text?=` words decoded; whitespace between two encoded
/// words is dropped, as RFC 2047 §6.2 says. Charsets other than UTF-8 and ASCII are read as UTF-8.
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut pending_space = String::new();
    let mut last_was_word = false;
    for token in value.split_inclusive(char::is_whitespace) {
        let word = token.trim_end();
        let space = &token[word.len()..];
        match decode_word(word) {
            Some(decoded) => {
                if !last_was_word {
                    out.push_str(&pending_space);
                }
                out.push_str(&decoded);
                last_was_word = true;
            }
            None => {
                out.push_str(&pending_space);
                out.push_str(word);
                last_was_word = false;
            }
        }
        pending_space = space.to_owned();
    }
    out.push_str(&pending_space);
    out.trim().to_owned()
}

fn decode_word(word: &str) -> Option<String> {
    let inner = word.strip_prefix("=?")?.strip_suffix("?=")?;
    let mut parts = inner.splitn(3, '?');
    let (_charset, encoding, text) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes = match encoding {
        "B" | "b" => B64.decode(text).ok()?,
        "Q" | "q" => quoted_printable(text.as_bytes(), true),
        _ => return None,
    };
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_message_yields_its_subject_id_and_body() {
        let data = b"From: shop@example.com\r\nSubject: Your order\r\n is confirmed\r\nMessage-ID: <a.b@shop>\r\n\r\nHello\r\nTotal: 1.00 EUR\r\n";
        let parsed = parse(data);
        assert_eq!(parsed.subject.as_deref(), Some("Your order is confirmed"));
        assert_eq!(parsed.message_id.as_deref(), Some("<a.b@shop>"));
        assert_eq!(parsed.body, "Hello\nTotal: 1.00 EUR\n");
    }

    #[test]
    fn quoted_printable_and_base64_bodies_are_decoded() {
        let qp = b"Content-Transfer-Encoding: quoted-printable\r\n\r\nK=C3=A4se, a long=\r\n line\r\n";
        assert_eq!(parse(qp).body, "Käse, a long line\n");
        let b64 = b"content-transfer-encoding: BASE64\r\n\r\nS8Okc2UK\r\n";
        assert_eq!(parse(b64).body, "Käse\n");
    }

    #[test]
    fn encoded_words_in_the_subject_are_decoded() {
        let data = b"Subject: =?utf-8?b?S8Okc2U=?= =?utf-8?q?_und_Brot?= to go\r\n\r\n";
        assert_eq!(parse(data).subject.as_deref(), Some("Käse und Brot to go"));
        assert_eq!(decode_words("plain =?x?z?bad?= words"), "plain =?x?z?bad?= words");
    }

    #[test]
    fn a_message_without_headers_or_body_is_still_read() {
        assert_eq!(parse(b"just text"), Parsed { subject: None, message_id: None, body: String::new() });
        assert_eq!(parse(b"Subject: x\n\nbare newlines\n").body, "bare newlines\n");
    }
}

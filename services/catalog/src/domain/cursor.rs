//! Opaque page positions. A cursor names the last item a client saw, so pages stay stable while
//! products are added or removed, unlike offsets.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// Browsing in id (creation) order: continue after this id.
    After(Uuid),
    /// Search results in rank order: continue after this (score, id).
    Ranked { score: i64, id: Uuid },
}

impl Cursor {
    pub fn encode(self) -> String {
        let raw = match self {
            Self::After(id) => format!("a:{id}"),
            Self::Ranked { score, id } => format!("r:{score}:{id}"),
        };
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// `None` for anything this service did not produce.
    pub fn decode(text: &str) -> Option<Self> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(text).ok()?).ok()?;
        let mut parts = raw.splitn(3, ':');
        match (parts.next()?, parts.next()?, parts.next()) {
            ("a", id, None) => Some(Self::After(Uuid::try_parse(id).ok()?)),
            ("r", score, Some(id)) => Some(Self::Ranked { score: score.parse().ok()?, id: Uuid::try_parse(id).ok()? }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn round_trips() {
        let id = Uuid::now_v7();
        for cursor in [Cursor::After(id), Cursor::Ranked { score: 7, id }] {
            assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        }
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in ".{0,80}") {
            let _ = Cursor::decode(&text);
        }

        #[test]
        fn arbitrary_bytes_behind_valid_base64_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Cursor::decode(&URL_SAFE_NO_PAD.encode(bytes));
        }
    }
}

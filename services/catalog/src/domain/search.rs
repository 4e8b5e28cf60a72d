//! Full-text search terms, computed the same way for indexing and for queries, so that search
//! behaves identically on SQLite and PostgreSQL (ADR 0003).
//!
//! Text is lower-cased and split into words; each word is indexed whole and by every prefix of
//! at least [`MIN_TERM_CHARS`] characters, so "skil" finds "skillet". A term found in the name
//! weighs more than one found only in the description, and a whole word more than a prefix.

use std::collections::BTreeMap;

use super::Violation;

pub const MIN_TERM_CHARS: usize = 2;
const MAX_TERM_CHARS: usize = 32;
pub const MAX_QUERY_TERMS: usize = 8;
const MAX_QUERY_CHARS: usize = 200;

const NAME_WEIGHT: i64 = 3;
const DESCRIPTION_WEIGHT: i64 = 1;
const WHOLE_WORD_FACTOR: i64 = 2;

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= MIN_TERM_CHARS)
        .map(|w| w.to_lowercase().chars().take(MAX_TERM_CHARS).collect())
}

/// The index rows of one product: each term with its weight (the highest wherever it occurs).
pub fn index_terms(name: &str, description: &str) -> BTreeMap<String, i64> {
    let mut terms = BTreeMap::new();
    for (text, field_weight) in [(name, NAME_WEIGHT), (description, DESCRIPTION_WEIGHT)] {
        for word in words(text) {
            let chars: Vec<char> = word.chars().collect();
            for len in MIN_TERM_CHARS..=chars.len() {
                let weight = if len == chars.len() { field_weight * WHOLE_WORD_FACTOR } else { field_weight };
                let term: String = chars[..len].iter().collect();
                let entry = terms.entry(term).or_insert(0);
                *entry = (*entry).max(weight);
            }
        }
    }
    terms
}

/// The distinct terms of a search query; every one of them must match a product.
pub fn query_terms(query: &str) -> Result<Vec<String>, Violation> {
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(Violation::new("q", format!("must be at most {MAX_QUERY_CHARS} characters")));
    }
    let mut terms: Vec<String> = Vec::new();
    for word in words(query) {
        if !terms.contains(&word) {
            terms.push(word);
        }
    }
    if terms.is_empty() {
        return Err(Violation::new("q", format!("must contain a word of at least {MIN_TERM_CHARS} letters or digits")));
    }
    if terms.len() > MAX_QUERY_TERMS {
        return Err(Violation::new("q", format!("must contain at most {MAX_QUERY_TERMS} distinct words")));
    }
    Ok(terms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_whole_words_and_prefixes_with_weights() {
        let terms = index_terms("Cast-Iron Skillet", "A skillet for the oven");
        assert_eq!(terms["skillet"], NAME_WEIGHT * WHOLE_WORD_FACTOR);
        assert_eq!(terms["skil"], NAME_WEIGHT);
        assert_eq!(terms["oven"], DESCRIPTION_WEIGHT * WHOLE_WORD_FACTOR);
        assert_eq!(terms["ov"], DESCRIPTION_WEIGHT);
        assert!(!terms.contains_key("a"), "single letters are not indexed");
        assert!(terms.contains_key("iron"));
    }

    #[test]
    fn queries_are_normalised_like_the_index() {
        assert_eq!(query_terms("  SKIL, iron skil ").unwrap(), vec!["skil", "iron"]);
        assert_eq!(query_terms("Crème").unwrap(), vec!["crème"]);
    }

    #[test]
    fn empty_or_oversized_queries_are_rejected() {
        assert!(query_terms("").is_err());
        assert!(query_terms("a - !").is_err());
        assert!(query_terms("aa bb cc dd ee ff gg hh ii").is_err());
        assert!(query_terms(&"x".repeat(201)).is_err());
        assert_eq!(query_terms(&"x".repeat(200)).unwrap().len(), 1, "exactly the longest query is allowed");
        assert_eq!(query_terms("aa bb cc dd ee ff gg hh").unwrap().len(), MAX_QUERY_TERMS);
    }

    #[test]
    fn long_words_are_truncated_not_rejected() {
        let word = "a".repeat(100);
        assert_eq!(query_terms(&word).unwrap()[0].len(), MAX_TERM_CHARS);
        assert!(index_terms(&word, "").contains_key(&"a".repeat(MAX_TERM_CHARS)));
    }
}

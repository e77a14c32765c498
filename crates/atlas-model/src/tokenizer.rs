//! A tiny fixed-vocabulary tokenizer for driving instructions.
//!
//! Instructions are short imperative phrases ("turn left at the next
//! junction", "drive slowly"). Text is lower-cased and split on anything
//! that is not a letter or digit; each word maps to its index in
//! [`VOCABULARY`], unknown words to [`UNK`]. Id 0 ([`PAD`]) pads a batch and
//! is masked out of attention. The vocabulary is part of the model: changing
//! it changes the meaning of trained embeddings, so it is only ever extended
//! at the end.

/// Padding id (masked out).
pub const PAD: u32 = 0;
/// Unknown-word id.
pub const UNK: u32 = 1;

/// Every known word, by id.
pub const VOCABULARY: &[&str] = &[
    "<pad>",
    "<unk>",
    "follow",
    "the",
    "lane",
    "road",
    "route",
    "turn",
    "left",
    "right",
    "at",
    "next",
    "junction",
    "intersection",
    "go",
    "straight",
    "ahead",
    "drive",
    "slowly",
    "carefully",
    "normally",
    "stop",
    "behind",
    "car",
    "vehicle",
    "pedestrian",
    "keep",
    "speed",
    "slow",
    "down",
    "and",
    "then",
    "a",
    "to",
    "for",
    "on",
    "in",
    "of",
    "please",
    "continue",
];

/// Size of the embedding table the model needs.
pub fn vocab_size() -> usize {
    VOCABULARY.len()
}

/// The id of one (lower-case) word.
pub fn word_id(word: &str) -> u32 {
    VOCABULARY
        .iter()
        .position(|w| *w == word)
        .map_or(UNK, |i| i as u32)
}

/// Tokenizes `text` into at most `max_len` ids (no padding).
pub fn encode(text: &str, max_len: usize) -> Vec<u32> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| word_id(&w.to_lowercase()))
        .take(max_len)
        .collect()
}

/// Tokenizes and pads to exactly `len` ids.
pub fn encode_padded(text: &str, len: usize) -> Vec<u32> {
    let mut ids = encode(text, len);
    ids.resize(len, PAD);
    ids
}

/// The words of `ids` (padding dropped), for logs.
pub fn decode(ids: &[u32]) -> String {
    ids.iter()
        .filter(|&&i| i != PAD)
        .map(|&i| VOCABULARY.get(i as usize).copied().unwrap_or("<unk>"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_map_to_ids_and_back() {
        let ids = encode("Turn LEFT at the next junction!", 16);
        assert_eq!(decode(&ids), "turn left at the next junction");
        assert!(!ids.contains(&UNK));
        assert_eq!(encode("fly to the moon", 8)[0], UNK);
        assert_eq!(encode("", 8), Vec::<u32>::new());
    }

    #[test]
    fn long_text_is_cut_and_short_text_padded() {
        assert_eq!(encode("drive slowly and then stop", 3).len(), 3);
        let p = encode_padded("drive slowly", 5);
        assert_eq!(p.len(), 5);
        assert_eq!(&p[2..], &[PAD, PAD, PAD]);
    }

    #[test]
    fn vocabulary_has_no_duplicates() {
        for (i, w) in VOCABULARY.iter().enumerate() {
            assert_eq!(word_id(w) as usize, i, "{w}");
        }
    }
}

//! Property tests: the wildcard matcher (with its byte-level fast paths, on UTF-8 and UTF-16)
//! agrees with a textbook dynamic-programming matcher over code points.

use dcom_detect_core::rule::wildcard::Pattern;
use dcom_detect_core::{CaseFolding, Text};
use proptest::prelude::*;

/// Reference: `dp[i][j]` = pattern[..i] matches text[..j].
fn reference(pattern: &str, text: &str, fold: CaseFolding) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let mut dp = vec![vec![false; t.len() + 1]; p.len() + 1];
    dp[0][0] = true;
    for i in 1..=p.len() {
        dp[i][0] = dp[i - 1][0] && p[i - 1] == '*';
        for j in 1..=t.len() {
            dp[i][j] = match p[i - 1] {
                '*' => dp[i - 1][j] || dp[i][j - 1],
                '?' => dp[i - 1][j - 1],
                c => dp[i - 1][j - 1] && fold.fold(c) == fold.fold(t[j - 1]),
            };
        }
    }
    dp[p.len()][t.len()]
}

fn alphabet() -> impl Strategy<Value = char> {
    prop::sample::select(vec![
        'a', 'A', 'b', 'k', 'K', 's', 'S', 'd', 'D', '-', '.', '\\', '%', '_', '\n', 'é', 'É', '\u{212A}', '\u{17F}',
        '\u{130}', 'ı', 'ß', 'ẞ', '😀', '\u{301}',
    ])
}

fn pattern_alphabet() -> impl Strategy<Value = char> {
    prop_oneof![3 => alphabet(), 1 => Just('*'), 1 => Just('?')]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    #[test]
    fn matcher_agrees_with_reference(
        pattern in prop::collection::vec(pattern_alphabet(), 0..8).prop_map(String::from_iter),
        text in prop::collection::vec(alphabet(), 0..12).prop_map(String::from_iter),
        unicode in any::<bool>(),
    ) {
        let fold = if unicode { CaseFolding::UnicodeSimple } else { CaseFolding::Ascii };
        let expected = reference(&pattern, &text, fold);
        let compiled = Pattern::wildcard(&pattern, fold);
        prop_assert_eq!(compiled.matches(Text::utf8(&text)), expected, "utf8 {:?} {:?}", pattern, text);
        let units: Vec<u16> = text.encode_utf16().collect();
        prop_assert_eq!(compiled.matches(Text::from_utf16(&units).unwrap()), expected, "utf16");
    }

    #[test]
    fn fast_shapes_agree_with_reference(
        lit in prop::collection::vec(alphabet(), 0..5).prop_map(String::from_iter),
        text in prop::collection::vec(alphabet(), 0..12).prop_map(String::from_iter),
        shape in 0..4usize,
        unicode in any::<bool>(),
    ) {
        let fold = if unicode { CaseFolding::UnicodeSimple } else { CaseFolding::Ascii };
        let pattern = match shape { 0 => lit.clone(), 1 => format!("{lit}*"), 2 => format!("*{lit}"), _ => format!("*{lit}*") };
        let compiled = Pattern::wildcard(&pattern, fold);
        prop_assert_eq!(compiled.matches(Text::utf8(&text)), reference(&pattern, &text, fold), "{:?} {:?}", pattern, text);
        let literal = Pattern::literal(&lit, fold);
        // The alphabet has no `*` or `?`, so the literal is also its own wildcard pattern.
        prop_assert_eq!(literal.matches(Text::utf8(&text)), reference(&lit, &text, fold));
    }
}

//! Filters: language, spam heuristics and blocklists. A filtered item is not dropped:
//! it is stored and passed on with `filter.filtered = true` and every reason, so a
//! user can see what was filtered and why, and change their mind by replaying.

use serde_json::json;

use super::Enricher;
use super::settings::FiltersConfig;
use crate::model::Content;

/// Phrases that sell something rather than say something. ("100x" alone is a P/E
/// multiple in market talk, so only the shill phrasings count.)
const PROMO: &[&str] = &[
    "join my discord",
    "join our discord",
    "join my telegram",
    "join our telegram",
    "telegram group",
    "whatsapp group",
    "free signals",
    "signal group",
    "dm me",
    "dm for",
    "guaranteed returns",
    "guaranteed profit",
    "next 100x",
    "100x gem",
    "1000x gem",
    "100x potential",
    "airdrop",
    "promo code",
    "referral code",
    "use my code",
    "click the link",
    "link in bio",
    "sign up now",
    "giveaway",
    "double your",
    "pump group",
    "next 100 bagger",
    "free crypto",
    "free money",
];

pub struct Filters {
    languages: Vec<String>,
    spam: bool,
    authors: Vec<String>,
    words: Vec<String>,
    domains: Vec<String>,
}

impl Filters {
    pub fn new(cfg: &FiltersConfig) -> Filters {
        let lower = |v: &[String]| -> Vec<String> {
            v.iter()
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty())
                .collect()
        };
        Filters {
            languages: cfg.languages.clone(),
            spam: cfg.spam,
            authors: lower(&cfg.block_authors)
                .into_iter()
                .map(|a: String| a.trim_start_matches('@').to_string())
                .collect(),
            words: lower(&cfg.block_words),
            domains: lower(&cfg.block_domains),
        }
    }

    pub fn reasons(&self, item: &Content) -> Vec<String> {
        let mut reasons = Vec::new();
        let text = super::sentiment::reading_text(item);
        let lower = text.to_lowercase();
        if !self.languages.is_empty()
            && let Some(lang) = item
                .enrichments
                .get("language")
                .and_then(|l| l.get("lang"))
                .and_then(|l| l.as_str())
            && lang != "und"
            && !self.languages.iter().any(|l| l == lang)
        {
            reasons.push(format!("language:{lang}"));
        }
        if let Some(a) = &item.author {
            let handle = a.handle.trim_start_matches('@').to_lowercase();
            if self.authors.contains(&handle) {
                reasons.push(format!("blocked_author:{handle}"));
            }
        }
        for w in &self.words {
            if contains_word(&lower, w) {
                reasons.push(format!("blocked_word:{w}"));
            }
        }
        if !self.domains.is_empty() {
            let mut hosts: Vec<String> = urls(&lower).map(host).collect();
            if let Some(u) = &item.url {
                hosts.push(host(&u.to_lowercase()));
            }
            for d in &self.domains {
                if hosts
                    .iter()
                    .any(|h| h == d || h.ends_with(&format!(".{d}")))
                {
                    reasons.push(format!("blocked_domain:{d}"));
                }
            }
        }
        if self.spam {
            reasons.extend(spam_reasons(&text, &lower, item));
        }
        reasons
    }
}

fn contains_word(hay: &str, w: &str) -> bool {
    hay.match_indices(w).any(|(i, _)| {
        let before = hay[..i].chars().next_back();
        let after = hay[i + w.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

fn urls(lower: &str) -> impl Iterator<Item = &str> {
    lower
        .split_whitespace()
        .filter(|w| w.starts_with("http://") || w.starts_with("https://") || w.starts_with("www."))
}

fn host(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let host = rest.split(['/', '?', '#', ':']).next().unwrap_or("");
    host.trim_start_matches("www.").to_string()
}

/// Named heuristics; any one of them marks the item as spam.
fn spam_reasons(text: &str, lower: &str, item: &Content) -> Vec<String> {
    let mut r = Vec::new();
    let words = text.split_whitespace().count();
    let links = urls(lower).count();
    if links >= 3 && links * 3 >= words {
        r.push("spam:link_farm".to_string());
    }
    if let Some(p) = PROMO.iter().find(|p| lower.contains(*p)) {
        r.push(format!("spam:promo:{p}"));
    }
    let mut run = 1;
    let mut prev = None;
    for c in text.chars() {
        if Some(c) == prev
            && !c.is_whitespace()
            && !c.is_ascii_digit()
            && c != '.'
            && c != '-'
            && c != '='
        {
            run += 1;
            if run >= 10 {
                r.push("spam:repeated_characters".to_string());
                break;
            }
        } else {
            run = 1;
        }
        prev = Some(c);
    }
    let letters: Vec<char> = text.chars().filter(|c| c.is_alphabetic()).collect();
    let upper = letters.iter().filter(|c| c.is_uppercase()).count();
    // Headlines and filings are often capitalized; shouting means a long all-caps post.
    if letters.len() >= 60 && upper * 10 >= letters.len() * 9 && item.source != "sec" {
        r.push("spam:shouting".to_string());
    }
    let mut tags: Vec<&String> = item.cashtags.iter().collect();
    tags.dedup();
    if tags.len() >= 8 {
        r.push("spam:cashtag_stuffing".to_string());
    }
    if text
        .split_whitespace()
        .filter(|w| w.starts_with('#') && w.len() > 1)
        .count()
        >= 10
    {
        r.push("spam:hashtag_stuffing".to_string());
    }
    r
}

impl Enricher for Filters {
    fn name(&self) -> &'static str {
        "filters"
    }

    fn enrich(
        &self,
        item: &mut Content,
        _state: &dyn super::EnrichState,
    ) -> Result<(), super::EnrichError> {
        let reasons = self.reasons(item);
        item.enrichments.insert(
            "filter".into(),
            json!({"filtered": !reasons.is_empty(), "reasons": reasons}),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(text: &str) -> Content {
        crate::enrich::text_item(text)
    }

    fn filters() -> Filters {
        Filters::new(&FiltersConfig {
            languages: vec!["en".into()],
            spam: true,
            block_authors: vec!["@Pumper".into()],
            block_words: vec!["rugpull".into()],
            block_domains: vec!["scam.example".into()],
        })
    }

    #[test]
    fn reasons_are_named_and_good_items_pass() {
        let f = filters();
        assert!(
            f.reasons(&item("Apple beat estimates and raised its dividend."))
                .is_empty()
        );
        let r = f.reasons(&item(
            "Join my Discord for free signals!!! next 100x guaranteed",
        ));
        assert!(
            f.reasons(&item("Amazon is overvalued at 100x earnings"))
                .is_empty()
        );
        assert!(r.iter().any(|r| r.starts_with("spam:promo")), "{r:?}");
        let r = f.reasons(&item("see https://www.scam.example/x now"));
        assert_eq!(r, ["blocked_domain:scam.example"]);
        let mut i = item("this is not a rugpull");
        i.author = Some(crate::model::Author {
            id: None,
            handle: "pumper".into(),
            name: None,
        });
        assert_eq!(
            f.reasons(&i),
            ["blocked_author:pumper", "blocked_word:rugpull"]
        );
        let mut i = item("Die Aktie ist heute gefallen, sagt der Analyst");
        crate::enrich::language::Language
            .enrich(&mut i, &crate::enrich::MemoryState::default())
            .unwrap();
        assert_eq!(f.reasons(&i), ["language:de"]);
    }
}

//! HTML → plain text for status bodies (Mastodon/Truth Social `content`) and fields
//! that carry markup. Small on purpose: these bodies are a handful of tags (`p`, `br`,
//! `a`, `span`), and the text must come out the same on every run.

/// Converts a fragment to text: paragraphs become blank lines, `<br>` a newline, links
/// keep their full text (Mastodon splits URLs into invisible/ellipsis spans; joined,
/// they are the URL), and Truth Social's `quote-inline` trailer ("RT: url") is dropped
/// because the quote is carried separately.
pub fn to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    // Depth inside an element whose content is skipped; 0 = not skipping.
    let mut skip_depth = 0usize;
    while let Some(lt) = rest.find('<') {
        if skip_depth == 0 {
            out.push_str(&decode_entities(&rest[..lt]));
        }
        let Some(gt) = rest[lt..].find('>') else {
            // A dangling '<' is text, not a tag.
            if skip_depth == 0 {
                out.push_str(&decode_entities(&rest[lt..]));
            }
            rest = "";
            break;
        };
        let tag = &rest[lt + 1..lt + gt];
        rest = &rest[lt + gt + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        let self_closing = tag.ends_with('/');
        if skip_depth > 0 {
            if name == "span" {
                if closing {
                    skip_depth -= 1;
                } else if !self_closing {
                    skip_depth += 1;
                }
            }
            continue;
        }
        match name.as_str() {
            "br" => out.push('\n'),
            "p" | "div" if closing => out.push_str("\n\n"),
            "p" | "div" if !out.is_empty() && !out.ends_with('\n') => out.push_str("\n\n"),
            "span" if !closing && tag.contains("quote-inline") => skip_depth = 1,
            _ => {}
        }
    }
    if skip_depth == 0 {
        out.push_str(&decode_entities(rest));
    }
    tidy(&out)
}

/// Collapses runs of spaces, trims lines, and allows at most one blank line in a row.
fn tidy(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank_run = 0;
    for line in s.split('\n') {
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
        }
        blank_run = 0;
        out.push_str(&line);
    }
    out
}

/// Decodes the named entities that occur in feeds plus numeric references. Unknown
/// entities are left as they are rather than guessed.
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let end = rest[1..].find(';').map(|i| i + 1).filter(|&i| i <= 10);
        let decoded = end.and_then(|end| {
            let name = &rest[1..end];
            let ch = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" | "#39" => Some('\''),
                "nbsp" => Some(' '),
                "hellip" => Some('…'),
                "mdash" => Some('—'),
                "ndash" => Some('–'),
                "rsquo" => Some('’'),
                "lsquo" => Some('‘'),
                "ldquo" => Some('“'),
                "rdquo" => Some('”'),
                _ => {
                    let num = name.strip_prefix('#')?;
                    let code = match num.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => num.parse().ok()?,
                    };
                    char::from_u32(code)
                }
            }?;
            Some((ch, end))
        });
        match decoded {
            Some((ch, end)) => {
                out.push(ch);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_breaks_and_entities() {
        assert_eq!(
            to_text("<p>One &amp; two</p><p>Three<br/>four</p>"),
            "One & two\n\nThree\nfour"
        );
        assert_eq!(
            to_text("<p>It&#39;s &#x2014; &quot;ok&quot;</p>"),
            "It's — \"ok\""
        );
        assert_eq!(decode_entities("AT&T &bogus; &"), "AT&T &bogus; &");
    }

    #[test]
    fn mastodon_links_mentions_and_quote_trailer() {
        let html = r#"<p>RT <span class="h-card"><a href="https://truthsocial.com/@mrddmia" class="u-url mention">@<span>mrddmia</span></a></span> Big day <a href="https://x.com/a/b"><span class="invisible">https://</span><span class="ellipsis">x.com/a</span><span class="invisible">/b</span></a><span class="quote-inline"><br/>RT: https://truthsocial.com/users/x/statuses/1</span></p>"#;
        assert_eq!(to_text(html), "RT @mrddmia Big day https://x.com/a/b");
    }

    #[test]
    fn stray_angle_bracket_is_text() {
        assert_eq!(to_text("price < 5"), "price < 5");
    }
}

//! A minimal element tree over quick-xml, for feeds (Atom, RSS). Feeds are small and
//! shallow, so a tree is simpler to read than an event loop per format, and a single
//! place can decide what "truncated" and "wrong encoding" mean.

use quick_xml::Reader;
use quick_xml::events::Event;

use super::PayloadError;

#[derive(Debug, Default, Clone)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }
    pub fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
    /// Trimmed text of a child, None when absent or blank.
    pub fn text_of(&self, name: &str) -> Option<String> {
        self.child(name)
            .map(|c| c.text.trim().to_string())
            .filter(|s| !s.is_empty())
    }
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Decodes the document to a string: UTF-8 (BOM stripped) unless the declaration says
/// ISO-8859-1/Latin-1 (EDGAR does), in which case every byte is its own code point.
pub fn decode(body: &[u8]) -> Result<String, PayloadError> {
    let body = body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(body);
    let head = String::from_utf8_lossy(&body[..body.len().min(120)]).to_ascii_lowercase();
    let decl = head.split("?>").next().unwrap_or("");
    if decl.contains("iso-8859-1") || decl.contains("latin1") || decl.contains("windows-1252") {
        return Ok(body.iter().map(|&b| b as char).collect());
    }
    String::from_utf8(body.to_vec())
        .map_err(|e| PayloadError(format!("XML is not valid UTF-8: {e}")))
}

/// Parses a whole document into its root element. A document whose root never closes
/// is truncated, even when quick-xml reached the end of input without complaint.
pub fn parse(body: &[u8]) -> Result<Element, PayloadError> {
    let text = decode(body)?;
    let mut reader = Reader::from_str(&text);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let ev = reader.read_event().map_err(|e| {
            PayloadError(format!(
                "invalid XML at byte {}: {e}",
                reader.buffer_position()
            ))
        })?;
        match ev {
            Event::Start(e) => stack.push(element(&e)?),
            Event::Empty(e) => {
                let el = element(&e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                let el = stack
                    .pop()
                    .ok_or_else(|| PayloadError("invalid XML: unbalanced end tag".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => {
                        root = Some(el);
                    }
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    let s = t
                        .unescape()
                        .map_err(|e| PayloadError(format!("invalid XML text: {e}")))?;
                    top.text.push_str(&s);
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&c.into_inner()));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(open) = stack.first() {
        return Err(PayloadError(format!(
            "truncated XML: <{}> is never closed",
            open.name
        )));
    }
    root.ok_or_else(|| PayloadError("empty XML document".into()))
}

fn element(e: &quick_xml::events::BytesStart) -> Result<Element, PayloadError> {
    let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a =
            a.map_err(|err| PayloadError(format!("invalid XML attribute in <{name}>: {err}")))?;
        let key = String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned();
        let value = a
            .unescape_value()
            .map_err(|err| PayloadError(format!("invalid XML attribute: {err}")))?;
        attrs.push((key, value.into_owned()));
    }
    Ok(Element {
        name,
        attrs,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_cdata_and_latin1() {
        let doc = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a><b x=\"1\">caf\xe9 &amp; co</b><c><![CDATA[<raw>]]></c></a>";
        let root = parse(doc).unwrap();
        assert_eq!(root.text_of("b").unwrap(), "café & co");
        assert_eq!(root.child("b").unwrap().attr("x"), Some("1"));
        assert_eq!(root.text_of("c").unwrap(), "<raw>");
    }

    #[test]
    fn truncation_is_an_error() {
        let err = parse(b"<feed><entry><title>x</title></entry><entry><ti").unwrap_err();
        assert!(
            err.0.contains("truncated") || err.0.contains("invalid"),
            "{err}"
        );
        assert!(parse(b"").is_err());
    }
}

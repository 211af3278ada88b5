//! Enrichment through the real binary: VADER parity with the Python reference, finance
//! and ticker accuracy on our labelled sets, `sigflow enrich` on bad input, and the
//! pipeline storing what the enrichers found.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::util::*;

fn data(name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Runs `sigflow enrich ARGS` with `input` on stdin.
fn enrich(args: &[&str], input: &str) -> Output {
    let mut child = sigflow()
        .arg("enrich")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_string();
    // Write on a thread: the output pipe fills while we write.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    out
}

/// One JSON object per line of stdout (split on '\n' only: texts may hold U+2028).
fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .split('\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn texts_as_jsonl<'a>(texts: impl Iterator<Item = &'a str>) -> String {
    texts
        .map(|t| format!("{}\n", json!({ "text": t })))
        .collect()
}

#[test]
fn vader_mode_equals_python_vader_sentiment_on_the_parity_corpus() {
    let expected: Vec<Value> = data("vader_expected.jsonl")
        .split('\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        expected.len() >= 2000,
        "the corpus has {} texts",
        expected.len()
    );
    let input = texts_as_jsonl(expected.iter().map(|e| e["text"].as_str().unwrap()));
    let out = enrich(&["--mode", "vader", "--only", "sentiment"], &input);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = lines(&out);
    assert_eq!(got.len(), expected.len());
    let mut mismatches = Vec::new();
    for (e, g) in expected.iter().zip(&got) {
        let s = &g["sentiment"];
        for k in ["neg", "neu", "pos", "compound"] {
            let (want, have) = (e[k].as_f64().unwrap(), s[k].as_f64().unwrap());
            if (want - have).abs() > 1e-4 {
                mismatches.push(format!(
                    "{:?} {k}: python {want}, sigflow {have}",
                    e["text"]
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// (direction accuracy on bullish/bearish items, 3-class accuracy).
fn sentiment_accuracy(file: &str, mode: &str) -> (f64, f64) {
    let rows: Vec<(String, String)> = data(file)
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (lab, text) = l.split_once('\t').unwrap();
            (lab.to_string(), text.to_string())
        })
        .collect();
    let out = enrich(
        &["--mode", mode, "--only", "sentiment"],
        &texts_as_jsonl(rows.iter().map(|r| r.1.as_str())),
    );
    assert!(out.status.success());
    let got = lines(&out);
    let (mut dir_ok, mut dir_n, mut ok) = (0, 0, 0);
    for ((lab, _), g) in rows.iter().zip(&got) {
        let c = g["sentiment"]["compound"].as_f64().unwrap();
        let class = if c >= 0.05 {
            "bullish"
        } else if c <= -0.05 {
            "bearish"
        } else {
            "neutral"
        };
        ok += usize::from(class == lab);
        if lab != "neutral" {
            dir_n += 1;
            dir_ok += usize::from((c > 0.0 && lab == "bullish") || (c < 0.0 && lab == "bearish"));
        }
    }
    (dir_ok as f64 / dir_n as f64, ok as f64 / rows.len() as f64)
}

#[test]
fn finance_mode_meets_its_accuracy_targets_and_beats_plain_vader() {
    for file in ["finance_sentiment_dev.tsv", "finance_sentiment_check.tsv"] {
        let (vd, v3) = sentiment_accuracy(file, "vader");
        let (fd, f3) = sentiment_accuracy(file, "finance");
        eprintln!(
            "{file}: vader direction {vd:.3} 3-class {v3:.3}; finance direction {fd:.3} 3-class {f3:.3}"
        );
        assert!(
            fd >= 0.75,
            "{file}: finance direction accuracy {fd:.3} < 0.75"
        );
        assert!(
            f3 >= 0.65,
            "{file}: finance 3-class accuracy {f3:.3} < 0.65"
        );
        assert!(
            fd > vd && f3 > v3,
            "{file}: finance mode must beat plain VADER"
        );
    }
}

#[test]
fn ticker_names_meet_precision_and_recall_targets() {
    for file in ["tickers_dev.tsv", "tickers_check.tsv"] {
        let rows: Vec<(Vec<String>, String)> = data(file)
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (exp, text) = l.split_once('\t').unwrap();
                let exp = if exp == "-" {
                    vec![]
                } else {
                    exp.split(',').map(str::to_string).collect()
                };
                (exp, text.to_string())
            })
            .collect();
        let out = enrich(
            &["--only", "cashtags,tickers"],
            &texts_as_jsonl(rows.iter().map(|r| r.1.as_str())),
        );
        assert!(out.status.success());
        let (mut tp, mut fp, mut fn_) = (0, 0, 0);
        for ((exp, text), g) in rows.iter().zip(lines(&out)) {
            let got: Vec<String> = serde_json::from_value(g["tickers"].clone()).unwrap();
            tp += got.iter().filter(|t| exp.contains(t)).count();
            fp += got.iter().filter(|t| !exp.contains(t)).count();
            let missed: Vec<_> = exp.iter().filter(|t| !got.contains(t)).collect();
            fn_ += missed.len();
            if got.iter().any(|t| !exp.contains(t)) || !missed.is_empty() {
                eprintln!("{file}: expected {exp:?}, got {got:?}: {text}");
            }
        }
        let precision = tp as f64 / (tp + fp) as f64;
        let recall = tp as f64 / (tp + fn_) as f64;
        eprintln!(
            "{file}: precision {precision:.3} recall {recall:.3} ({} texts)",
            rows.len()
        );
        assert!(precision >= 0.95, "{file}: precision {precision:.3}");
        assert!(recall >= 0.90, "{file}: recall {recall:.3}");
    }
}

#[test]
fn enrich_command_reports_bad_lines_and_keeps_going() {
    let input = "Apple beats estimates, raises guidance 🚀\n{\"text\": 5}\n{not json\nAPPLE BEATS ESTIMATES, RAISES GUIDANCE 🚀\n";
    let out = enrich(&[], input);
    assert!(
        !out.status.success(),
        "bad lines make the exit code non-zero"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 2") && stderr.contains("line 3"),
        "{stderr}"
    );
    let got = lines(&out);
    assert_eq!(got.len(), 4, "one output line per input line");
    assert_eq!(got[0]["tickers"], json!(["AAPL"]));
    assert_eq!(got[0]["sentiment"]["label"], "bullish");
    assert!(got[1]["error"].as_str().unwrap().contains("`text`"));
    assert!(got[2]["error"].as_str().unwrap().contains("not valid JSON"));
    // The shouted copy is a duplicate of the first line, linked to it.
    assert_eq!(got[3]["dedup"]["kind"], "exact");
    assert_eq!(got[3]["dedup"]["first_id"], got[0]["dedup"]["first_id"]);
    for key in ["language", "filter", "keywords", "velocity"] {
        assert!(got[0].get(key).is_some(), "missing {key}: {}", got[0]);
    }

    let out = enrich(&["--only", "sentiment,nope"], "x\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown enricher `nope`"));
    let out = Command::new(env!("CARGO_BIN_EXE_sigflow"))
        .args(["enrich", "--mode", "loud"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("vader"));
}

#[test]
fn the_pipeline_stores_what_every_enricher_found() {
    let dir = TestDir::new("enrich-demo");
    demo_to_idle(&dir, &[]);
    let conn = db(&dir.db());
    let docs: Vec<Value> = {
        let mut st = conn.prepare("SELECT doc FROM contents").unwrap();
        st.query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|d| serde_json::from_str(&d.unwrap()).unwrap())
            .collect()
    };
    assert_eq!(docs.len(), 1200);
    for d in &docs {
        let e = &d["enrichments"];
        for key in [
            "language",
            "filter",
            "tickers",
            "sentiment",
            "keywords",
            "dedup",
            "velocity",
        ] {
            assert!(e.get(key).is_some(), "{} lacks {key}", d["id"]);
        }
        assert_eq!(e["sentiment"]["mode"], "finance");
    }
    // Names found without a cashtag reach the ticker index the API filters on.
    let by_name = docs
        .iter()
        .filter(|d| {
            d["enrichments"]["tickers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["via"] == "name")
        })
        .count();
    assert!(by_name > 0, "no ticker was found by company name");
    // Reposts in the demo set repeat their originals' text: dedup links them.
    let dups = docs
        .iter()
        .filter(|d| d["enrichments"]["dedup"]["kind"] != "unique")
        .count();
    assert!(dups > 0, "no duplicate found in the demo set");
    for d in docs
        .iter()
        .filter(|d| d["enrichments"]["dedup"]["kind"] != "unique")
    {
        let first = d["enrichments"]["dedup"]["first_id"].as_str().unwrap();
        assert_ne!(first, d["id"].as_str().unwrap());
        assert_eq!(
            count(
                &conn,
                &format!("SELECT COUNT(*) FROM contents WHERE id = '{first}'")
            ),
            1,
            "first occurrence {first} is stored"
        );
    }
    // The state lives in the store: at most one fingerprint per item (texts without a
    // word have none).
    let fps = count(&conn, "SELECT COUNT(*) FROM dedup_fingerprints");
    assert!((1100..=1200).contains(&fps), "{fps} fingerprints");
}

#[test]
fn the_api_filters_by_sentiment_filter_flag_and_duplicates() {
    let dir = TestDir::new("enrich-api");
    let (_run, base) = demo_with_api(&dir);
    // Walks every page of a query; returns the items.
    let all = |query: &str| -> Vec<Value> {
        let mut items = Vec::new();
        let mut url = format!("{base}/api/v1/contents?limit=500&{query}");
        loop {
            let (s, page) = get_json(&url);
            assert_eq!(s, 200, "{url}: {page}");
            items.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => url = format!("{base}/api/v1/contents?limit=500&{query}&cursor={c}"),
                None => return items,
            }
        }
    };
    let bearish = all("sentiment=bearish");
    assert!(!bearish.is_empty());
    assert!(
        bearish
            .iter()
            .all(|c| c["enrichments"]["sentiment"]["label"] == "bearish")
    );
    let bullish = all("sentiment=bullish").len();
    let neutral = all("sentiment=neutral").len();
    assert_eq!(
        bearish.len() + bullish + neutral,
        1200,
        "every item has one label"
    );
    let firsts = all("duplicates=false");
    assert!(
        firsts
            .iter()
            .all(|c| c["enrichments"]["dedup"]["kind"] == "unique")
    );
    let conn = db(&dir.db());
    let unique = count(
        &conn,
        "SELECT COUNT(*) FROM contents WHERE json_extract(doc, '$.enrichments.dedup.kind') = 'unique'",
    );
    assert_eq!(firsts.len() as i64, unique);
    let kept = all("filtered=false").len();
    let flagged = all("filtered=true").len();
    assert_eq!(kept + flagged, 1200);
    // Combined with the ticker index, which holds names found without a cashtag too.
    for c in all("ticker=LMT&sentiment=bearish") {
        assert!(c["tickers"].as_array().unwrap().contains(&json!("LMT")));
        assert_eq!(c["enrichments"]["sentiment"]["label"], "bearish");
    }
    let (s, e) = get_json(&format!("{base}/api/v1/contents?sentiment=angry"));
    assert_eq!(s, 400);
    assert!(e["detail"].as_str().unwrap().contains("bullish"), "{e}");
}

/// Every stored item's dedup verdict: (id, duplicate flag, first_id), sorted by id.
fn dedup_verdicts(dir: &TestDir) -> Vec<(String, i64, String)> {
    let conn = db(&dir.db());
    let mut st = conn
        .prepare(
            "SELECT id, duplicate, json_extract(doc, '$.enrichments.dedup.first_id')
             FROM contents ORDER BY id",
        )
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn dedup_gives_the_same_answer_in_any_order_and_never_links_different_tickers() {
    // Batch size and partition count change the order items reach dedup in (and which
    // arrive together); the verdicts must not change. Small batches make items that
    // precede stored ones arrive late, so revisions happen and are checked too.
    let mut runs = Vec::new();
    for (batch, partitions) in [("1000", "4"), ("7", "1"), ("3", "8")] {
        let dir = TestDir::new("dedup-order");
        let out = run_ok(
            demo_cmd(&dir, "max")
                .arg("--exit-when-idle")
                .env("SIGFLOW__PIPELINE__BATCH_SIZE", batch)
                .env("SIGFLOW__TOPICS__PARTITIONS", partitions),
        );
        assert!(out.status.success());
        let conn = db(&dir.db());
        // No item links to an item about other tickers.
        assert_eq!(
            count(
                &conn,
                "SELECT count(*) FROM contents a JOIN contents b
                   ON b.id = json_extract(a.doc, '$.enrichments.dedup.first_id')
                 WHERE a.duplicate = 1
                   AND json_extract(a.doc, '$.tickers') != json_extract(b.doc, '$.tickers')"
            ),
            0
        );
        // The stored documents say what the dedup state says.
        assert_eq!(
            count(
                &conn,
                "SELECT count(*) FROM contents c JOIN dedup_fingerprints f ON f.content_id = c.id
                 WHERE f.first_id != json_extract(c.doc, '$.enrichments.dedup.first_id')
                    OR c.duplicate != (f.kind != 'unique')"
            ),
            0
        );
        let revised = count(
            &conn,
            "SELECT count(*) FROM dedup_fingerprints WHERE revised != ''",
        );
        let v = dedup_verdicts(&dir);
        assert!(v.iter().any(|r| r.1 == 1), "the demo has duplicates");
        runs.push((batch, revised, v));
    }
    assert!(
        runs.iter().any(|r| r.1 > 0),
        "small batches made some items arrive after later ones: {:?}",
        runs.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>()
    );
    for r in &runs[1..] {
        let diff = r.2.iter().zip(&runs[0].2).filter(|(a, b)| a != b).count();
        assert_eq!(diff, 0, "batch size {}: {diff} verdicts differ", r.0);
    }
}

#[test]
fn tickers_explain_every_decision_and_use_the_source_as_evidence() {
    let input = [
        r#"{"text": "Harrison Ford was at the Target Center; Boeing (NYSE: BA) rose and NASDAQ:MSFT fell"}"#,
        r#"{"text": "Delta cuts 2,000 jobs"}"#,
        r#"{"text": "Delta cuts 2,000 jobs", "source": "sec"}"#,
        r#"{"text": "IT support said GM to everyone"}"#,
    ]
    .join("\n");
    let out = enrich(&["--only", "cashtags,tickers", "--explain"], &input);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = lines(&out);
    let decided = |i: usize, t: &str| -> Value {
        got[i]["explain"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["ticker"] == t)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(got[0]["tickers"], json!(["BA", "MSFT"]));
    let ford = decided(0, "F");
    assert_eq!(ford["accepted"], false, "{ford}");
    assert!(
        ford["reason"].as_str().unwrap().contains("person"),
        "{ford}"
    );
    let target = decided(0, "TGT");
    assert!(
        target["reason"].as_str().unwrap().contains("venue"),
        "{target}"
    );
    assert_eq!(decided(0, "BA")["via"], "exchange");
    assert_eq!(decided(0, "BA")["matched"], "NYSE: BA");
    assert_eq!(decided(0, "MSFT")["via"], "exchange");
    // A bare sentence-initial "Delta" needs its context; a filing is that context.
    assert_eq!(got[1]["tickers"], json!(["DAL"]), "jobs is market context");
    assert_eq!(got[2]["tickers"], json!(["DAL"]));
    assert_eq!(got[3]["tickers"], json!([]));
    let mentions = &got[0]["ticker_mentions"];
    assert!(
        mentions
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["confidence"].as_f64().unwrap() > 0.5),
        "{mentions}"
    );
}

#[test]
fn bench_quality_meets_the_targets_on_our_sets_and_takes_other_sets() {
    let out = run_ok(sigflow().args(["bench", "--suite", "quality", "--json"]));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let headlines = &r["tickers"][0];
    assert!(headlines["recall"].as_f64().unwrap() >= 0.95, "{headlines}");
    let chatter = &r["tickers"][2];
    assert!(
        chatter["wrong_per_1000"].as_f64().unwrap() <= 10.0,
        "{chatter}"
    );
    for s in r["sentiment"].as_array().unwrap() {
        assert!(s["accuracy"].as_f64().unwrap() >= 0.70, "{s}");
        assert!(s["direction"].as_f64().unwrap() >= 0.80, "{s}");
    }
    assert_eq!(r["dedup"]["disjoint_ticker_links"], 0);
    assert_eq!(r["dedup"]["order_changes"], 0);
    // Someone else's labelled set in place of ours: read, scored, its mistakes listed.
    let dir = TestDir::new("quality-dir");
    std::fs::write(
        dir.join("tickers_headlines.tsv"),
        "# theirs\nAAPL\tApple shares rise\nF\tthe ford in the river\n",
    )
    .unwrap();
    let out = run_ok(
        sigflow()
            .args(["bench", "--suite", "quality", "--json", "--quality-dir"])
            .arg(&dir.path),
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["tickers"][0]["texts"], 2);
    assert_eq!(r["tickers"][0]["recall"], 0.5);
    assert!(
        r["tickers"][0]["set"]
            .as_str()
            .unwrap()
            .contains("quality-dir")
    );
}

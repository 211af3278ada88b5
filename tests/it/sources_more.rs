//! X, SEC EDGAR and feed sources against local mocks in the platforms' shapes, through
//! the real binary.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::mock_http::{MockServer, Resp};
use crate::util::*;

fn tweet(id: u64) -> Value {
    json!({
        "edit_history_tweet_ids": [id.to_string()], "id": id.to_string(),
        "author_id": "783214", "created_at": "2026-11-20T15:04:05.000Z", "lang": "en",
        "conversation_id": id.to_string(),
        "text": format!("$ACME beats on revenue, raises guidance ({id})"),
        "public_metrics": {"retweet_count": 4, "reply_count": 2, "like_count": 30, "quote_count": 1,
            "bookmark_count": 0, "impression_count": 2500},
        "entities": {"cashtags": [{"start": 0, "end": 5, "tag": "ACME"}]}
    })
}

#[test]
fn x_pages_with_next_token_and_keeps_since_id() {
    let dir = TestDir::new("src-x");
    let tweets = Arc::new(Mutex::new(vec![1003u64, 1002, 1001]));
    let mock = {
        let tweets = tweets.clone();
        MockServer::start(move |r| {
            if r.header("authorization") != Some("Bearer test-token") {
                return Resp::json(
                    401,
                    r#"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"#,
                );
            }
            if r.path() == "/2/users/by" {
                return Resp::json(
                    200,
                    json!({"data": [{"id": "783214", "name": "Acme IR", "username": "acme_ir"}]})
                        .to_string(),
                );
            }
            if r.path() != "/2/users/783214/tweets" {
                return Resp::json(404, "{}");
            }
            let since: u64 = r
                .query("since_id")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let max: usize = r
                .query("max_results")
                .and_then(|s| s.parse().ok())
                .unwrap_or(10);
            let skip: usize = r
                .query("pagination_token")
                .and_then(|t| t.trim_start_matches('p').parse().ok())
                .unwrap_or(0);
            let all: Vec<u64> = tweets
                .lock()
                .unwrap()
                .iter()
                .copied()
                .filter(|t| *t > since)
                .collect();
            // Pages of at most 3, like the real one's 100.
            let page: Vec<u64> = all.iter().skip(skip).take(max.min(3)).copied().collect();
            let mut meta = json!({"result_count": page.len()});
            if let (Some(first), Some(last)) = (page.first(), page.last()) {
                meta["newest_id"] = json!(first.to_string());
                meta["oldest_id"] = json!(last.to_string());
            }
            if skip + page.len() < all.len() {
                meta["next_token"] = json!(format!("p{}", skip + page.len()));
            }
            let body = if page.is_empty() {
                json!({"meta": meta})
            } else {
                json!({"data": page.iter().map(|id| tweet(*id)).collect::<Vec<_>>(),
                    "includes": {"users": [{"id": "783214", "name": "Acme IR", "username": "acme_ir"}]},
                    "meta": meta})
            };
            let reset = (chrono::Utc::now().timestamp() + 900).to_string();
            Resp::json(200, body.to_string())
                .with("x-rate-limit-limit", "900")
                .with("x-rate-limit-remaining", "899")
                .with("x-rate-limit-reset", &reset)
        })
    };
    let cfg = source_config(
        &dir,
        &format!(
            "[[sources]]\nname = \"x\"\nkind = \"x\"\nusernames = [\"@acme_ir\"]\nbase_url = \"{}\"\n\
             interval_secs = 1\nbackfill = 5\nmax_rps = 50\n",
            mock.base
        ),
    );
    // Without the token the configuration is refused, naming the variable.
    let out = sigflow()
        .args(["validate", "--config"])
        .arg(&cfg)
        .env_remove("X_BEARER_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("$X_BEARER_TOKEN"));

    let _run = Running::spawn(
        sigflow()
            .args(["run", "--no-api", "--config"])
            .arg(&cfg)
            .env("X_BEARER_TOKEN", "test-token"),
    );
    wait_until("the backfill", Duration::from_secs(20), || {
        stored(&dir, "x") == 3
    });
    tweets
        .lock()
        .unwrap()
        .splice(0..0, [1008, 1007, 1006, 1005, 1004]);
    wait_until(
        "five new tweets over two pages",
        Duration::from_secs(20),
        || stored(&dir, "x") == 8,
    );
    let timeline = mock.hits("/2/users/783214/tweets");
    assert!(
        timeline
            .iter()
            .any(|r| r.query("pagination_token").is_some())
    );
    assert!(
        timeline
            .iter()
            .skip(1)
            .all(|r| r.query("since_id").is_some()),
        "every poll after the first asks since the newest seen"
    );
    assert_eq!(
        mock.hits("/2/users/by").len(),
        1,
        "usernames are resolved once"
    );
}

fn atom_entry(acc: &str, cik: &str, role: &str, base: &str) -> String {
    let folder = acc.replace('-', "");
    format!(
        "<entry>\r\n<title>4 - Example Holder {cik} ({cik}) ({role})</title>\r\n\
<link rel=\"alternate\" type=\"text/html\" href=\"{base}/Archives/edgar/data/{cik}/{folder}/{acc}-index.htm\"/>\r\n\
<summary type=\"html\">\r\n &lt;b&gt;Filed:&lt;/b&gt; 2026-11-20 &lt;b&gt;AccNo:&lt;/b&gt; {acc} &lt;b&gt;Size:&lt;/b&gt; 9 KB\r\n</summary>\r\n\
<updated>2026-11-20T16:45:18-05:00</updated>\r\n\
<category scheme=\"https://www.sec.gov/\" label=\"form type\" term=\"4\"/>\r\n\
<id>urn:tag:sec.gov,2008:accession-number={acc}</id>\r\n</entry>\r\n"
    )
}

fn form4_xml(symbol: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<ownershipDocument><schemaVersion>X0508</schemaVersion><documentType>4</documentType>\
<periodOfReport>2026-11-18</periodOfReport><issuer><issuerCik>0000111111</issuerCik><issuerName>{symbol} Corp</issuerName>\
<issuerTradingSymbol>{symbol}</issuerTradingSymbol></issuer><reportingOwner><reportingOwnerId><rptOwnerCik>0000222222</rptOwnerCik>\
<rptOwnerName>Roe Richard</rptOwnerName></reportingOwnerId><reportingOwnerRelationship><isDirector>true</isDirector>\
</reportingOwnerRelationship></reportingOwner><aff10b5One>false</aff10b5One><nonDerivativeTable><nonDerivativeTransaction>\
<securityTitle><value>Common Stock</value></securityTitle><transactionDate><value>2026-11-18</value></transactionDate>\
<transactionCoding><transactionFormType>4</transactionFormType><transactionCode>P</transactionCode><equitySwapInvolved>false</equitySwapInvolved></transactionCoding>\
<transactionAmounts><transactionShares><value>5000</value></transactionShares><transactionPricePerShare><value>41.2</value></transactionPricePerShare>\
<transactionAcquiredDisposedCode><value>A</value></transactionAcquiredDisposedCode></transactionAmounts>\
<postTransactionAmounts><sharesOwnedFollowingTransaction><value>25000</value></sharesOwnedFollowingTransaction></postTransactionAmounts>\
<ownershipNature><directOrIndirectOwnership><value>D</value></directOrIndirectOwnership></ownershipNature></nonDerivativeTransaction></nonDerivativeTable>\
<ownerSignature><signatureName>/s/ Richard Roe</signatureName><signatureDate>2026-11-20</signatureDate></ownerSignature></ownershipDocument>"
    )
}

#[test]
fn sec_dedupes_accessions_and_turns_form4_xml_into_insider_trades() {
    let dir = TestDir::new("src-sec");
    let filings = Arc::new(Mutex::new(vec![
        ("0000222222-26-000002".to_string(), "MSFT"),
        ("0000222222-26-000001".to_string(), "AAPL"),
    ]));
    let base = Arc::new(Mutex::new(String::new()));
    let feed_calls = Arc::new(Mutex::new(0u32));
    let mock = {
        let (filings, base, feed_calls) = (filings.clone(), base.clone(), feed_calls.clone());
        MockServer::start(move |r| {
            let b = base.lock().unwrap().clone();
            let list = filings.lock().unwrap().clone();
            if r.path() == "/cgi-bin/browse-edgar" {
                assert_eq!(r.query("output").as_deref(), Some("atom"));
                let mut n = feed_calls.lock().unwrap();
                *n += 1;
                if *n == 1 {
                    return Resp {
                        status: 403,
                        headers: vec![("content-type".into(), "text/html".into())],
                        body: b"<html><head><title>SEC.gov | Request Rate Threshold Exceeded</title></head><body>Your Request Originates from an Undeclared Automated Tool</body></html>".to_vec(),
                    };
                }
                let mut feed = String::from(
                    "<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\r\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\r\n\
<title>Latest Filings - Fri, 20 Nov 2026 17:00:00 EST</title>\r\n<updated>2026-11-20T17:00:00-05:00</updated>\r\n",
                );
                for (acc, _) in &list {
                    feed.push_str(&atom_entry(acc, "0000222222", "Reporting", &b));
                    feed.push_str(&atom_entry(acc, "0000111111", "Issuer", &b));
                }
                feed.push_str("</feed>\r\n");
                return Resp {
                    status: 200,
                    headers: vec![("content-type".into(), "application/atom+xml".into())],
                    body: feed.into_bytes(),
                };
            }
            for (acc, symbol) in &list {
                let folder = format!("/Archives/edgar/data/0000222222/{}", acc.replace('-', ""));
                if r.path() == format!("{folder}/index.json") {
                    return Resp::json(
                        200,
                        json!({"directory": {"name": folder, "item": [
                        {"name": format!("{acc}-index.htm"), "type": "text.gif", "size": ""},
                        {"name": format!("{acc}.txt"), "type": "text.gif", "size": ""},
                        {"name": "wk-form4_1763676000.xml", "type": "text.gif", "size": "4 KB"}]}})
                        .to_string(),
                    );
                }
                if r.path() == format!("{folder}/wk-form4_1763676000.xml") {
                    return Resp::json(200, form4_xml(symbol));
                }
            }
            Resp::json(404, "<html>Not Found</html>")
        })
    };
    *base.lock().unwrap() = mock.base.clone();
    let cfg = source_config(
        &dir,
        &format!(
            "[[sources]]\nname = \"edgar\"\nkind = \"sec\"\nforms = [\"4\"]\nbase_url = \"{}\"\n\
             user_agent = \"Sigflow Tests tests@example.com\"\ninterval_secs = 1\nmax_rps = 10\nblocked_wait_secs = 2\n",
            mock.base
        ),
    );
    let _run = Running::spawn(sigflow().args(["run", "--no-api", "--config"]).arg(&cfg));
    wait_until(
        "two filings and their trades",
        Duration::from_secs(20),
        || stored(&dir, "sec") == 2 && stored(&dir, "sec-form4") == 2,
    );
    filings
        .lock()
        .unwrap()
        .insert(0, ("0000222222-26-000003".to_string(), "NVDA"));
    wait_until("the third filing", Duration::from_secs(20), || {
        stored(&dir, "sec") == 3 && stored(&dir, "sec-form4") == 3
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        mock.hits("/Archives/")
            .iter()
            .filter(|r| r.path().ends_with("index.json"))
            .count(),
        3,
        "each accession's documents are fetched once"
    );
    let feed = mock.hits("/cgi-bin/browse-edgar");
    assert!(feed.len() >= 3);
    assert!(
        feed[1].at - feed[0].at >= Duration::from_millis(1950),
        "SEC's threshold page was not waited out"
    );
    assert!(
        mock.requests()
            .iter()
            .all(|r| r.header("user-agent") == Some("Sigflow Tests tests@example.com"))
    );
    let trade: String = db(&dir.db())
        .query_row(
            "SELECT json_extract(doc, '$.extras.insider_trade') FROM contents \
             WHERE source = 'sec-form4' AND json_extract(doc, '$.extras.insider_trade.symbol') = 'NVDA'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let t: Value = serde_json::from_str(&trade).unwrap();
    assert_eq!(t["transaction"], "bought");
    assert_eq!(t["shares"], 5000.0);
    assert_eq!(t["relationship"]["director"], true);
}

fn fed_feed(items: &[u32]) -> String {
    let mut s = String::from(
        "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<rss version=\"2.0\">\n<channel>\n\
<title>FRB: Press Release - All Releases</title>\n<link><![CDATA[https://www.federalreserve.gov/feeds/feeds.htm]]></link>\n\
<description><![CDATA[All recent press releases from the Federal Reserve Board]]></description>\n<language>en</language>\n",
    );
    for n in items {
        let url = format!(
            "https://www.federalreserve.gov/newsevents/pressreleases/monetary202611{n:02}a.htm"
        );
        s.push_str(&format!(
            "<item>\n<title>Federal Reserve issues FOMC statement {n}</title>\n<link><![CDATA[{url}]]></link>\n\
<guid><![CDATA[{url}]]></guid>\n<description><![CDATA[Federal Reserve issues FOMC statement {n}]]></description>\n\
<category>Monetary Policy</category>\n<pubDate><![CDATA[{date}]]></pubDate>    \n</item>\n",
            date = chrono::NaiveDate::from_ymd_opt(2026, 11, *n)
                .unwrap()
                .format("%a, %-d %b %Y 19:00:00 GMT")
        ));
    }
    s.push_str("</channel>\n</rss>\n");
    s
}

#[test]
fn feeds_poll_with_conditional_gets() {
    let dir = TestDir::new("src-feed");
    let items = Arc::new(Mutex::new(vec![5u32, 4]));
    let mock = {
        let items = items.clone();
        MockServer::start(move |r| {
            let list = items.lock().unwrap().clone();
            let etag = format!("\"v{}\"", list.len());
            if r.header("if-none-match") == Some(etag.as_str()) {
                return Resp {
                    status: 304,
                    headers: vec![("etag".into(), etag)],
                    body: vec![],
                };
            }
            Resp {
                status: 200,
                headers: vec![
                    ("content-type".into(), "application/rss+xml".into()),
                    ("etag".into(), etag),
                ],
                body: fed_feed(&list).into_bytes(),
            }
        })
    };
    let cfg = source_config(
        &dir,
        &format!(
            "[[sources]]\nname = \"fed\"\nkind = \"fed\"\nurl = \"{}/feeds/press_all.xml\"\ninterval_secs = 1\nbackfill_days = 36500\n",
            mock.base
        ),
    );
    let _run = Running::spawn(sigflow().args(["run", "--no-api", "--config"]).arg(&cfg));
    wait_until("the first releases", Duration::from_secs(20), || {
        stored(&dir, "fed") == 2
    });
    wait_until("a conditional GET", Duration::from_secs(10), || {
        mock.requests()
            .iter()
            .any(|r| r.header("if-none-match") == Some("\"v2\""))
    });
    items.lock().unwrap().insert(0, 6);
    wait_until("the new release", Duration::from_secs(20), || {
        stored(&dir, "fed") == 3
    });
    let raws = std::fs::read_dir(dir.data().join("lake/fed/raw"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(raws >= 1);
    // Unchanged polls were answered 304 and added no raw events.
    let raw_events = count(
        &db(&dir.db()),
        "SELECT COUNT(*) FROM log WHERE topic = 'raw'",
    );
    assert_eq!(
        raw_events, 2,
        "only the two changed feed bodies became raw events"
    );
}

fn nasdaq_day(day: chrono::NaiveDate) -> Value {
    json!({"data": {"asOf": day.format("%a, %b %-d, %Y").to_string(),
        "headers": {"time": "Time", "symbol": "Symbol", "name": "Company Name", "eps": "EPS"},
        "rows": [{"eps": "$1.02", "surprise": "4.1", "time": "time-after-hours",
            "symbol": format!("Q{}", day.format("%d")), "name": "Quux Holdings Inc",
            "marketCap": "$12,345,600,000", "fiscalQuarterEnding": "Sep/2026",
            "epsForecast": "$0.98", "noOfEsts": "7"}]},
        "message": null, "status": {"rCode": 200, "bCodeMessage": null, "developerMessage": null}})
}

#[test]
fn earnings_calendars_nasdaq_by_day_and_alpha_vantage_limit_waited_out() {
    let dir = TestDir::new("src-earnings");
    let av_calls = Arc::new(Mutex::new(0u32));
    let mock = {
        let av_calls = av_calls.clone();
        MockServer::start(move |r| {
            if r.path() == "/api/calendar/earnings" {
                if r.header("origin") != Some("https://www.nasdaq.com") {
                    return Resp::json(403, "<html>Access Denied</html>");
                }
                let day = chrono::NaiveDate::parse_from_str(&r.query("date").unwrap(), "%Y-%m-%d")
                    .unwrap();
                return Resp::json(200, nasdaq_day(day).to_string());
            }
            if r.path() == "/query" {
                assert_eq!(r.query("apikey").as_deref(), Some("av-test-key"));
                let mut n = av_calls.lock().unwrap();
                *n += 1;
                if *n == 1 {
                    return Resp::json(
                        200,
                        "{\n    \"Information\": \"We have detected your API key as av-test-key and our standard API rate limit is 25 requests per day.\"\n}",
                    );
                }
                return Resp {
                    status: 200,
                    headers: vec![("content-type".into(), "application/x-download".into())],
                    body: b"symbol,name,reportDate,fiscalDateEnding,estimate,currency,timeOfTheDay\r\nBMO,BANK OF MONTREAL,2026-12-02,2026-10-31,2.72,USD,pre-market\r\nBNS,BANK OF NOVA SCOTIA (THE),2026-12-02,2026-10-31,1.53,USD,pre-market\r\n".to_vec(),
                };
            }
            Resp::json(404, "{}")
        })
    };
    let cfg = source_config(
        &dir,
        &format!(
            "[[sources]]\nname = \"nasdaq\"\nkind = \"earnings\"\nprovider = \"nasdaq\"\nbase_url = \"{b}\"\ndays_ahead = 1\nmax_rps = 20\n\
             [[sources]]\nname = \"av\"\nkind = \"earnings\"\nprovider = \"alphavantage\"\nkey_env = \"AV_TEST_KEY\"\nbase_url = \"{b}\"\nmax_rps = 20\nblocked_wait_secs = 2\n",
            b = mock.base
        ),
    );
    let _run = Running::spawn(
        sigflow()
            .args(["run", "--no-api", "--config"])
            .arg(&cfg)
            .env("AV_TEST_KEY", "av-test-key"),
    );
    // Nasdaq: yesterday, today and tomorrow, one event each; Alpha Vantage: two, after
    // its HTTP-200 rate-limit body was recognised and waited out.
    wait_until("the earnings events", Duration::from_secs(20), || {
        stored(&dir, "earnings") == 5
    });
    assert_eq!(mock.hits("/api/calendar/earnings").len(), 3);
    let av = mock.hits("/query");
    assert_eq!(av.len(), 2);
    assert!(
        av[1].at - av[0].at >= Duration::from_millis(1950),
        "the rate-limit body was not waited out: {:?}",
        av[1].at - av[0].at
    );
    let dlq = count(&db(&dir.db()), "SELECT COUNT(*) FROM dlq");
    assert_eq!(
        dlq, 0,
        "a rate-limit body is not data and not a dead letter"
    );
}

#[test]
fn truthsocial_pages_back_with_max_id_when_more_arrived_than_a_page() {
    let dir = TestDir::new("src-truth-pages");
    let statuses = Arc::new(Mutex::new(vec![2002u64, 2001]));
    let mock = {
        let statuses = statuses.clone();
        MockServer::start(move |r| {
            let since: u64 = r
                .query("since_id")
                .and_then(|x| x.parse().ok())
                .unwrap_or(0);
            let max: u64 = r
                .query("max_id")
                .and_then(|x| x.parse().ok())
                .unwrap_or(u64::MAX);
            let limit: usize = r.query("limit").and_then(|x| x.parse().ok()).unwrap_or(20);
            let page: Vec<Value> = statuses
                .lock()
                .unwrap()
                .iter()
                .filter(|id| **id > since && **id < max)
                .take(limit)
                .map(|id| {
                    json!({"id": id.to_string(), "created_at": "2026-11-20T14:05:10.028Z",
                        "content": format!("<p>Status {id} on $DJT</p>"), "language": "en",
                        "url": format!("https://truthsocial.com/@markets_guy/{id}"),
                        "account": {"id": "42", "username": "markets_guy", "acct": "markets_guy", "display_name": "Markets Guy"},
                        "media_attachments": [], "mentions": [], "tags": [], "reblog": null, "quote": null,
                        "replies_count": 0, "reblogs_count": 0, "favourites_count": 1})
                })
                .collect();
            Resp::json(200, Value::Array(page).to_string())
        })
    };
    let cfg = source_config(
        &dir,
        &format!(
            "[[sources]]\nname = \"truth\"\nkind = \"truthsocial\"\naccount_ids = [\"42\"]\nbase_url = \"{}\"\n\
             interval_secs = 1\npage_size = 3\nmax_rps = 50\n",
            mock.base
        ),
    );
    let _run = Running::spawn(sigflow().args(["run", "--no-api", "--config"]).arg(&cfg));
    wait_until("the backfill", Duration::from_secs(20), || {
        stored(&dir, "truthsocial") == 2
    });
    // Seven new statuses: pages of three, newest first, down to the one already seen.
    statuses
        .lock()
        .unwrap()
        .splice(0..0, [2009, 2008, 2007, 2006, 2005, 2004, 2003]);
    wait_until("all seven", Duration::from_secs(20), || {
        stored(&dir, "truthsocial") == 9
    });
    let paged: Vec<Option<String>> = mock
        .requests()
        .iter()
        .filter(|r| r.query("since_id").as_deref() == Some("2002"))
        .map(|r| r.query("max_id"))
        .collect();
    assert!(
        paged.contains(&Some("2007".to_string())) && paged.contains(&Some("2004".to_string())),
        "paged back with max_id: {paged:?}"
    );
}

#[test]
fn congress_files_senate_rows_and_the_clerk_zip() {
    use std::io::Write;
    let dir = TestDir::new("src-congress");
    let xml = "<?xml version=\"1.0\"?>\r\n<FinancialDisclosure>\r\n  <Member>\r\n    <Prefix>Hon.</Prefix>\r\n    <Last>Doe</Last>\r\n    <First>Jane</First>\r\n    <FilingType>P</FilingType>\r\n    <StateDst>CA12</StateDst>\r\n    <Year>2026</Year>\r\n    <FilingDate>11/18/2026</FilingDate>\r\n    <DocID>20035555</DocID>\r\n  </Member>\r\n  <Member>\r\n    <Last>Roe</Last>\r\n    <First>John</First>\r\n    <FilingType>O</FilingType>\r\n    <StateDst>TX07</StateDst>\r\n    <Year>2026</Year>\r\n    <FilingDate>11/19/2026</FilingDate>\r\n    <DocID>10066666</DocID>\r\n  </Member>\r\n</FinancialDisclosure>\r\n";
    let mut zipped = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut zipped);
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        w.start_file("2026FD.txt", o).unwrap();
        w.write_all(
            b"Prefix\tLast\tFirst\tSuffix\tFilingType\tStateDst\tYear\tFilingDate\tDocID\r\n",
        )
        .unwrap();
        w.start_file("2026FD.xml", o).unwrap();
        w.write_all(xml.as_bytes()).unwrap();
        w.finish().unwrap();
    }
    let zipped = zipped.into_inner();
    // Dates relative to today (the source takes 30 days of history on its first poll),
    // and the expected values computed from the same dates: nothing here depends on
    // the calendar day the test runs.
    let today = chrono::Utc::now().date_naive();
    let date = |ago: i64| today - chrono::Duration::days(ago);
    let day = |ago: i64| date(ago).format("%m/%d/%Y").to_string();
    let midnight = |ago: i64| date(ago).format("%Y-%m-%dT00:00:00Z").to_string();
    let senate = json!([
        {"transaction_date": day(11), "owner": "Spouse", "ticker": "NVDA", "asset_description": "NVIDIA Corporation - Common Stock",
         "asset_type": "Stock", "type": "Purchase", "amount": "$15,001 - $50,000", "comment": "--",
         "senator": "Pat Q Example", "ptr_link": "https://efdsearch.senate.gov/search/view/ptr/00000000-1111/", "disclosure_date": day(3)},
        {"transaction_date": day(11), "owner": "Self", "ticker": "--", "asset_description": "Municipal Bond &amp; Notes<br>",
         "asset_type": "Municipal Security", "type": "Sale (Full)", "amount": "$1,001 - $15,000", "comment": "--",
         "senator": "Pat Q Example", "ptr_link": "https://efdsearch.senate.gov/search/view/ptr/00000000-1111/", "disclosure_date": day(3)},
        {"transaction_date": day(420), "owner": "Self", "ticker": "KO", "asset_description": "Coca-Cola Co",
         "asset_type": "Stock", "type": "Purchase", "amount": "$1,001 - $15,000", "comment": "--",
         "senator": "Pat Q Example", "ptr_link": "https://efdsearch.senate.gov/search/view/ptr/00000000-0000/", "disclosure_date": day(400)}
    ])
    .to_string();
    let mock = MockServer::start(move |r| match r.path() {
        "/public_disc/financial-pdfs/2026FD.zip" => Resp {
            status: 200,
            headers: vec![("content-type".into(), "application/zip".into())],
            body: zipped.clone(),
        },
        "/aggregate/all_transactions.json" => Resp::json(200, senate.clone()),
        _ => Resp::json(404, "{}"),
    });
    let cfg = source_config(
        &dir,
        &format!(
            "[[sources]]\nname = \"clerk\"\nkind = \"congress\"\nformat = \"house-clerk\"\nurl = \"{b}/public_disc/financial-pdfs/2026FD.zip\"\ninterval_secs = 1\nbackfill_days = 36500\n\
             [[sources]]\nname = \"senate\"\nkind = \"congress\"\nformat = \"senate-watcher\"\nurl = \"{b}/aggregate/all_transactions.json\"\ninterval_secs = 1\n",
            b = mock.base
        ),
    );
    let _run = Running::spawn(sigflow().args(["run", "--no-api", "--config"]).arg(&cfg));
    wait_until("the filings and trades", Duration::from_secs(20), || {
        stored(&dir, "house-clerk") == 1 && stored(&dir, "congress") == 2
    });
    let (happened, disclosed, ticker): (String, String, String) = db(&dir.db())
        .query_row(
            "SELECT json_extract(doc, '$.happened_at'), json_extract(doc, '$.disclosed_at'), \
             json_extract(doc, '$.extras.congress_trade.ticker') FROM contents \
             WHERE source = 'congress' AND json_extract(doc, '$.extras.congress_trade.ticker') IS NOT NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (happened.as_str(), disclosed.as_str(), ticker.as_str()),
        (midnight(11).as_str(), midnight(3).as_str(), "NVDA")
    );
    // The archive is filed as fetched.
    let zips = std::fs::read_dir(dir.data().join("lake/house-clerk/raw"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(zips >= 1);
}

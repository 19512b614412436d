use super::*;
use crate::chat::fixtures::{self, openai_delta};
use crate::chat::models;
use crate::ports::Guarded;
use crate::testing::{self, Reply, TestApp};
use serde_json::json;
use std::time::Duration;

const QUESTION: &str = "What changed for GPAI models in 2025?";

fn page(text: &str) -> Reply {
    slow_page(text, Duration::ZERO)
}

/// A page whose body comes after `pause`.
fn slow_page(text: &str, pause: Duration) -> Reply {
    let html = format!(
        "<html><head><title>T</title><script>tracker()</script></head><body><nav>Menu</nav>\
         <article><h1>Title</h1><p>{text} {}</p></article></body></html>",
        "Long enough to be the article of the page, with more words. ".repeat(4)
    );
    Reply::new(200).header("content-type", "text/html").pause(pause).body(html)
}

fn echo() -> ModelRoute {
    fixtures::route(vec![models::echo_target()])
}

/// An OpenAI streamed answer: `text`, then usage.
fn answer(text: &str, prompt: u64, completion: u64) -> Reply {
    usage_after(streamed().body(openai_delta(text)), prompt, completion)
}

fn streamed() -> Reply {
    Reply::new(200).header("content-type", "text/event-stream")
}

fn usage_after(reply: Reply, prompt: u64, completion: u64) -> Reply {
    let usage = json!({"choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion}});
    reply.body(format!("data: {usage}\n\ndata: [DONE]\n\n"))
}

fn app() -> TestApp {
    fixtures::app(testing::app().with_search())
}

fn run(t: &TestApp, route: ModelRoute, depth: Depth) -> Vec<Produced> {
    let search = t.app.search.clone().unwrap();
    let job = Job { conversation: Vec::new(), question: QUESTION.into(), depth };
    let stream = start(t.app.clone(), search, route, job);
    t.run(stream.map(Result::unwrap).collect::<Vec<_>>())
}

fn events<'a>(produced: &'a [Produced], name: &str) -> Vec<&'a Value> {
    let named = |p: &'a Produced| match p {
        Produced::Event(n, data) if *n == name => Some(data),
        _ => None,
    };
    produced.iter().filter_map(named).collect()
}

fn report(produced: &[Produced]) -> String {
    produced
        .iter()
        .filter_map(|p| match p {
            Produced::Provider(ProviderEvent::Text(t)) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

fn sources(produced: &[Produced]) -> Vec<(u32, String)> {
    let saved = produced.iter().find_map(|p| match p {
        Produced::Sources(s) => Some(s.clone()),
        _ => None,
    });
    saved.expect("sources").into_iter().map(|s| (s.n, s.url)).collect()
}

fn usage(produced: &[Produced]) -> Usage {
    match produced.last() {
        Some(Produced::Provider(ProviderEvent::Usage(u))) => *u,
        other => panic!("the run ends with its usage, not {other:?}"),
    }
}

#[test]
fn with_echo_the_question_is_the_plan_and_a_redirect_inside_is_never_followed() {
    let t = app();
    t.search.finds(
        QUESTION,
        &[
            ("https://news.example/gpai", "GPAI news", "snippet one"),
            ("https://evil.example/r", "Redirect", "snippet two"),
            ("http://10.0.0.7/admin", "Inside", "snippet three"),
        ],
    );
    t.http.reply(page("Obligations apply from 2 August 2025."));
    t.http.reply(Reply::new(302).header("location", "http://169.254.169.254/latest/meta-data/"));
    let produced = run(&t, echo(), Depth::Standard);

    assert_eq!(events(&produced, "plan"), [&json!({"questions": [QUESTION]})]);
    assert_eq!(t.search.asked(), [QUESTION]);
    assert_eq!(sources(&produced), [(1, "https://news.example/gpai".to_string())]);
    assert_eq!(
        events(&produced, "source"),
        [&json!({"n": 1, "url": "https://news.example/gpai", "title": "GPAI news"})]
    );
    let sent: Vec<_> = t.http.sent().into_iter().map(|s| s.uri).collect();
    assert_eq!(
        sent,
        ["https://news.example/gpai", "https://evil.example/r"],
        "neither inside address is asked"
    );
    assert!(t.http.sent().iter().all(|s| s.guarded == Some(Guarded { public_only: true })));
    let report = report(&produced);
    assert!(
        report.contains("[1] GPAI news") && report.contains("2 August 2025"),
        "echo repeats the sources: {report}"
    );
    assert!(!report.contains("tracker()"));
    let agents: Vec<_> =
        events(&produced, "step").iter().map(|s| s["agent"].as_str().unwrap().to_string()).collect();
    for agent in ["planner", "researcher", "analyzer", "synthesizer"] {
        assert!(agents.iter().any(|a| a == agent), "{agent} in {agents:?}");
    }
    assert!(usage(&produced).output_tokens > 0);
}

#[test]
fn scripted_agents_plan_research_analyze_and_report_counting_every_agents_tokens() {
    let t = app();
    let route = fixtures::route(vec![fixtures::openai()]);
    t.search.finds("GPAI obligations 2025", &[("https://a.example/1", "A", "a")]);
    t.search.finds("GPAI code of practice", &[("https://b.example/2", "B", "b")]);
    t.search.finds("GPAI fines", &[("https://c.example/3", "C", "c")]);
    t.http.reply(answer(r#"{"questions": ["GPAI obligations 2025", "GPAI code of practice"]}"#, 100, 20));
    t.http.reply(page("Obligations apply from 2 August 2025."));
    t.http.reply(page("The code of practice was published in July 2025."));
    t.http.reply(answer(r#"{"summary": "Dates agree; fines unknown.", "more": ["GPAI fines"]}"#, 300, 30));
    t.http.reply(page("Fines reach 3% of turnover."));
    t.http.reply(answer("Obligations apply from August 2025 [1][2]; fines reach 3% [3].", 900, 40));
    let most = crate::chat::context::reply_budget(&route);
    let produced = run(&t, route, Depth::Standard);

    assert_eq!(
        events(&produced, "plan"),
        [&json!({"questions": ["GPAI obligations 2025", "GPAI code of practice"]})]
    );
    assert_eq!(t.search.asked(), ["GPAI obligations 2025", "GPAI code of practice", "GPAI fines"]);
    let urls = ["https://a.example/1", "https://b.example/2", "https://c.example/3"];
    assert_eq!(
        sources(&produced),
        urls.iter().enumerate().map(|(i, u)| (i as u32 + 1, u.to_string())).collect::<Vec<_>>()
    );
    assert_eq!(report(&produced), "Obligations apply from August 2025 [1][2]; fines reach 3% [3].");
    let analyzer =
        events(&produced, "step").into_iter().find(|s| s["agent"] == "analyzer" && s["status"] == "done");
    assert_eq!(analyzer.unwrap()["detail"], "Dates agree; fines unknown.");
    assert_eq!(usage(&produced), Usage { input_tokens: 1300, output_tokens: 90 });
    let synthesizer: serde_json::Value = serde_json::from_slice(&t.http.sent()[5].body).unwrap();
    let prompt = synthesizer["messages"][1]["content"].as_str().unwrap();
    assert!(prompt.contains("[3] C (https://c.example/3)") && prompt.contains("3% of turnover"), "{prompt}");
    assert_eq!(synthesizer["max_completion_tokens"], most, "the budget's rest, within the model's limit");
    // Every agent's tokens reach the producer as they are spent (it keeps the latest):
    // a run stopped midway is charged for what it used.
    let totals: Vec<u64> = produced
        .iter()
        .filter_map(|p| match p {
            Produced::Provider(ProviderEvent::Usage(u)) => Some(u.input_tokens),
            _ => None,
        })
        .collect();
    assert_eq!(totals[..3], [100, 400, 1300]);
}

#[test]
fn page_and_token_budgets_stop_their_stages_and_the_report_says_so() {
    let t = app();
    let hits: Vec<(String, String)> =
        (1..=6).map(|i| (format!("https://p.example/{i}"), format!("P{i}"))).collect();
    let hits: Vec<(&str, &str, &str)> = hits.iter().map(|(u, t)| (u.as_str(), t.as_str(), "")).collect();
    t.search.finds(QUESTION, &hits);
    for i in 1..=3 {
        t.http.reply(page(&format!("Page {i}.")));
    }
    let mut budget_run = run(&t, echo(), Depth::Quick);
    assert_eq!(sources(&budget_run).len(), 3, "three pages per search");
    assert!(events(&budget_run, "step").iter().all(|s| s["status"] != "budget"));

    let t = app();
    let budget = Depth::Quick.budget();
    t.search.finds(QUESTION, &hits);
    let route = fixtures::route(vec![fixtures::openai()]);
    // The planner spends nearly the whole token budget: the analyzer is not asked.
    let planned = r#"{"questions": ["one", "two", "three"]}"#;
    t.http.reply(answer(planned, budget.tokens - budget.report_tokens() - 10, 5));
    t.search.finds("one", &hits[..3]);
    t.search.finds("two", &hits[3..]);
    for i in 1..=4 {
        t.http.reply(page(&format!("Page {i}.")));
    }
    t.http.reply(answer("Report [1].", 10, 3));
    budget_run = run(&t, route, Depth::Quick);
    assert_eq!(
        events(&budget_run, "plan"),
        [&json!({"questions": ["one", "two"]})],
        "at most 2 sub-questions"
    );
    let stops: Vec<_> = events(&budget_run, "step").into_iter().filter(|s| s["status"] == "budget").collect();
    let stops: Vec<_> =
        stops.iter().map(|s| (s["agent"].as_str().unwrap(), s["detail"].as_str().unwrap())).collect();
    assert_eq!(
        stops,
        [("researcher", "the page budget (4) is spent"), ("analyzer", "the token budget (40000) is spent")]
    );
    let report = report(&budget_run);
    let said = "_Research stopped early: the page budget (4) is spent; the token budget (40000) is spent._";
    assert!(report.starts_with("Report [1].") && report.ends_with(said), "{report}");
    assert_eq!(sources(&budget_run).len(), 4, "quick reads at most 4 pages");
}

#[test]
fn nothing_read_is_a_short_report_without_a_model_call() {
    let t = app();
    let detail = "secret confab-provider-search does not exist";
    t.search.fails(QUESTION, SearchError::Auth(detail.into()));
    let produced = run(&t, echo(), Depth::Quick);
    assert!(report(&produced).starts_with("No web page could be read"));
    let failed = events(&produced, "step").into_iter().find(|s| s["status"] == "failed").unwrap();
    assert_eq!(failed["detail"], format!("{QUESTION}: the search provider refused confab's key"));
    assert!(
        !failed["detail"].as_str().unwrap().contains("confab-provider-search"),
        "details stay in the logs"
    );
}

#[test]
fn the_wall_time_stops_reading_then_the_report_cleanly_and_the_report_says_so() {
    let t = app();
    let route = fixtures::route(vec![fixtures::openai()]);
    let started = t.app.now();
    let hits: Vec<(String, String)> =
        (1..=6).map(|i| (format!("https://p.example/{i}"), format!("P{i}"))).collect();
    let hits: Vec<(&str, &str, &str)> = hits.iter().map(|(u, t)| (u.as_str(), t.as_str(), "")).collect();
    t.search.finds("one", &hits[..3]);
    t.search.finds("two", &hits[3..]);
    // quick: 60 s, 42 s of them for research. A slow planner answers at 25 s; each
    // researcher reads a page by 34 s, and its next one would come at 43 s.
    let plan =
        streamed().pause(Duration::from_secs(25)).body(openai_delta(r#"{"questions": ["one", "two"]}"#));
    t.http.reply(usage_after(plan, 100, 10));
    for i in 1..=4 {
        t.http.reply(slow_page(&format!("Page {i}."), Duration::from_secs(9)));
    }
    // The analyzer has no time left: it is not asked. The report begins at 42 s and
    // would go on at 67 s: the run's 60 s cut it.
    let report_reply = streamed()
        .body(openai_delta("Partial answer [1][3]."))
        .pause(Duration::from_secs(25))
        .body(openai_delta(" Never sent."));
    t.http.reply(usage_after(report_reply, 900, 50));
    let produced = run(&t, route, Depth::Quick);

    assert_eq!(t.app.now() - started, time::Duration::seconds(60), "the run ends at its wall time");
    assert_eq!(sources(&produced).len(), 2, "the pages read before the time for research ran out");
    let stops: Vec<_> = events(&produced, "step").into_iter().filter(|s| s["status"] == "budget").collect();
    let stops: Vec<_> =
        stops.iter().map(|s| (s["agent"].as_str().unwrap(), s["detail"].as_str().unwrap())).collect();
    let (research, report_cut) = (
        "the time for research (42 s) ran out",
        "the run's time (60 s) ran out while the report was written",
    );
    assert_eq!(stops, [("researcher", research), ("analyzer", research), ("synthesizer", report_cut)]);
    assert_eq!(
        report(&produced),
        format!(
            "Partial answer [1].\n\n_Research stopped early: {research}; {report_cut}._\n\n\
             _Citations of pages that were not read were removed: 3._"
        )
    );
    // The cut report's tokens are estimated and counted with the other agents'.
    let used = usage(&produced);
    assert!(used.input_tokens > 100 && used.output_tokens > 10, "the planner's and the report's: {used:?}");
}

#[test]
fn an_analyzer_that_does_not_answer_is_given_up_when_the_time_for_research_ends() {
    let t = app();
    let route = fixtures::route(vec![fixtures::openai()]);
    let started = t.app.now();
    t.search.finds("one", &[("https://p.example/1", "P1", "")]);
    t.http.reply(answer(r#"{"questions": ["one"]}"#, 100, 10));
    t.http.reply(page("Page 1."));
    // quick: 42 s for research. The analyzer answers a piece every 20 s (never idle
    // long enough for the provider call's own stall timeout) and would end at 60 s.
    let mut analysis = streamed();
    for piece in [r#"{"more": "#, r#"["two"#, r#""]"#, "}"] {
        analysis = analysis.body(openai_delta(piece)).pause(Duration::from_secs(20));
    }
    t.http.reply(usage_after(analysis, 200, 10));
    t.http.reply(answer("The answer [1].", 900, 40));
    let produced = run(&t, route, Depth::Quick);

    assert_eq!(t.app.now() - started, time::Duration::seconds(42), "the report follows at once");
    let stops: Vec<_> = events(&produced, "step").into_iter().filter(|s| s["status"] == "budget").collect();
    assert_eq!(stops.len(), 1, "{stops:?}");
    assert_eq!(
        (&stops[0]["agent"], &stops[0]["detail"]),
        (&json!("analyzer"), &json!("the time for research (42 s) ran out"))
    );
    assert!(report(&produced).starts_with("The answer [1]."), "{}", report(&produced));
    let used = usage(&produced);
    assert!(used.input_tokens > 1000, "the analyzer's prompt is counted: {used:?}");
}

//! Operator CLI (SPEC §1: accounts are created by an operator, not over HTTP): accounts, keys,
//! and the repair of progress (re-drive parked stream records, reconcile from stored logs).
//!
//! By default it works on the local run's DynamoDB Local (`http://127.0.0.1:$DYNAMODB_PORT`,
//! table `gamify`); `DYNAMODB_ENDPOINT` and `TABLE_NAME` override; `--aws` uses the AWS
//! credential chain and `TABLE_NAME`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use domain::tenant::{Environment, Tenant};
use serde_json::json;
use store::Store;
use testkit::stream::{self, FailureMessage, StreamPoller};

struct Command {
    name: &'static str,
    options: &'static [&'static str],
    required: &'static [&'static str],
    help: &'static str,
}

const COMMANDS: &[Command] = &[
    Command {
        name: "create-account",
        options: &["--name"],
        required: &["--name"],
        help: "create-account --name NAME\n  Creates an account with live and test keys; prints them once (JSON).",
    },
    Command {
        name: "list-accounts",
        options: &[],
        required: &[],
        help: "list-accounts\n  Prints every account (id, name, status, createdAt, apiKeys), newest first, one JSON per line.",
    },
    Command {
        name: "rotate-key",
        options: &["--account", "--env", "--grace-hours"],
        required: &["--account", "--env"],
        help: "rotate-key --account ID --env live|test [--grace-hours 24]\n  Issues new keys for one environment (printed once); the current keys keep working for the grace period, then answer 401.",
    },
    Command {
        name: "revoke-key",
        options: &["--key"],
        required: &["--key"],
        help: "revoke-key --key KEY\n  Revokes one key (secret or public): 401 once the authorizer's cache (AUTH_CACHE_SECONDS, 30 s on AWS) has let go of it.",
    },
    Command {
        name: "pause-account",
        options: &["--account"],
        required: &["--account"],
        help: "pause-account --account ID\n  Every live key of the account answers 401 (within the authorizer's cache time) until resume-account.",
    },
    Command {
        name: "resume-account",
        options: &["--account"],
        required: &["--account"],
        help: "resume-account --account ID\n  Undoes pause-account (revoked and expired keys stay unusable).",
    },
    Command {
        name: "redrive",
        options: &["--file", "--queue-url"],
        required: &[],
        help: "redrive [--file PATH] | redrive --aws --queue-url URL\n  Re-drives stream records that failed every retry: reads each failure message's range from the\n  table's stream again (kept 24 hours) and processes it; what succeeds leaves the file or the queue.\n  Locally the messages are in ${GAMIFY_DATA_DIR:-.local}/stream-failures.jsonl; on AWS in the\n  failure queue (the stack's FailureQueueUrl output). Older than the stream: use reconcile.",
    },
    Command {
        name: "reconcile",
        options: &["--account", "--env", "--member"],
        required: &["--account"],
        help: "reconcile --account ID [--env live|test] [--member ID_OR_EXTERNAL_ID]\n  Recomputes progress, rewards and analytics from the stored logs: of one member, or of every\n  member of the account's environment (default live). Safe to run any time, any number of times.",
    },
    Command {
        name: "reshard-lists",
        options: &[],
        required: &[],
        help: "reshard-lists\n  Once, after upgrading a table written before the lists were sharded (issue 12): moves every\n  log, progress record, reward and member listed under its tenant's single list partition into\n  its shard, so tenant-wide lists show it again. Safe to repeat and to run while the API runs.",
    },
    Command {
        name: "mint-token",
        options: &["--api-key", "--api-secret", "--account", "--external-id", "--minutes"],
        required: &["--api-key", "--api-secret", "--account", "--external-id"],
        help: "mint-token --api-key AK --api-secret SK --account ID --external-id EXT [--minutes 15]\n  Prints an end-user token for one member, signed as a customer's backend signs it (HS256 with\n  the API secret; at most 30 minutes). For testing; production tokens come from your backend.",
    },
];

const GLOBAL: &str = "Options of every command: --aws (the AWS credential chain; TABLE_NAME names the table), --help.\n\
Environment: DYNAMODB_ENDPOINT (default http://127.0.0.1:${DYNAMODB_PORT:-8000}), TABLE_NAME (default gamify).";

fn usage() -> String {
    let mut text = String::from("usage: gamify-admin COMMAND [OPTIONS]\n\nCommands:\n");
    for c in COMMANDS {
        text.push_str(&format!("  {}\n", c.help.replace('\n', "\n  ")));
    }
    text.push('\n');
    text.push_str(GLOBAL);
    text
}

/// `--name value` pairs of a command; `None` when an option is unknown or has no value.
fn parse(command: &Command, args: &[String]) -> Result<(HashMap<String, String>, bool), String> {
    let mut options = HashMap::new();
    let mut aws = false;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--aws" {
            aws = true;
        } else if command.options.contains(&arg.as_str()) {
            let value = iter.next().ok_or(format!("{arg} needs a value"))?;
            options.insert(arg.clone(), value.clone());
        } else {
            return Err(format!("unknown argument {arg}"));
        }
    }
    Ok((options, aws))
}

async fn store(aws: bool) -> Store {
    let table = std::env::var("TABLE_NAME").unwrap_or_else(|_| "gamify".into());
    if aws {
        Store::new(Store::aws_client().await, table)
    } else {
        Store::new(Store::local_client(&local_endpoint()), table)
    }
}

fn local_endpoint() -> String {
    std::env::var("DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
        format!(
            "http://127.0.0.1:{}",
            std::env::var("DYNAMODB_PORT").unwrap_or_else(|_| "8000".into())
        )
    })
}

fn required<'a>(options: &'a HashMap<String, String>, name: &str) -> Result<&'a str, String> {
    options
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.trim().is_empty())
        .ok_or(format!("{name} is required"))
}

fn environment(options: &HashMap<String, String>) -> Result<Environment, String> {
    let env = options.get("--env").map(String::as_str).unwrap_or("live");
    Environment::parse(env).ok_or(format!("--env must be live or test (got {env})"))
}

fn print(value: impl serde::Serialize) {
    println!("{}", serde_json::to_string(&value).unwrap_or_default());
}

async fn run(command: &Command, options: HashMap<String, String>, aws: bool) -> Result<(), String> {
    let store = store(aws).await;
    let now = domain::time::now();
    let err = |e: app::accounts::AdminError| e.to_string();
    match command.name {
        "create-account" => {
            let name = required(&options, "--name")?;
            let created = app::accounts::create(&store, name).await.map_err(|e| {
                format!(
                    "could not create the account in table {}: {e:?}",
                    store.table()
                )
            })?;
            print(created);
        }
        "mint-token" => {
            let minutes: i64 = match options.get("--minutes") {
                None => 15,
                Some(m) => m
                    .parse()
                    .ok()
                    .filter(|m| (1..=30).contains(m))
                    .ok_or("--minutes must be 1 to 30")?,
            };
            let secret = required(&options, "--api-secret")?;
            if !domain::end_user::can_sign_tokens(secret) {
                return Err("this secret is from before end-user tokens (64 bytes or less) and cannot sign them; rotate-key issues one that can".into());
            }
            println!(
                "{}",
                domain::end_user::mint(
                    required(&options, "--api-key")?,
                    secret,
                    required(&options, "--account")?,
                    required(&options, "--external-id")?,
                    now,
                    minutes * 60,
                )
            );
        }
        "list-accounts" => {
            for account in app::accounts::list(&store)
                .await
                .map_err(|e| format!("{e:?}"))?
            {
                print(account);
            }
        }
        "rotate-key" => {
            let hours: i64 = match options.get("--grace-hours") {
                Some(h) => h
                    .parse()
                    .ok()
                    .filter(|h| *h >= 0)
                    .ok_or("--grace-hours must be a whole number ≥ 0")?,
                None => 24,
            };
            let account = required(&options, "--account")?;
            let issued = app::accounts::rotate(
                &store,
                account,
                environment(&options)?,
                chrono::Duration::hours(hours),
                now,
            )
            .await
            .map_err(err)?;
            let until = domain::time::format(&(now + chrono::Duration::hours(hours)));
            print(json!({"accountId": account, "keys": issued, "previousKeysValidUntil": until}));
        }
        "revoke-key" => {
            let key = app::accounts::revoke(&store, required(&options, "--key")?)
                .await
                .map_err(err)?;
            print(json!({"apiKey": key.api_key, "status": key.status}));
        }
        "pause-account" | "resume-account" => {
            let paused = command.name == "pause-account";
            let account =
                app::accounts::set_paused(&store, required(&options, "--account")?, paused)
                    .await
                    .map_err(err)?;
            print(json!({"accountId": account.id, "status": account.status}));
        }
        "redrive" => {
            let process = |event: aws_lambda_events::dynamodb::Event| {
                let store = &store;
                async move { processor::process_batch(store, &event.records, domain::time::now()).await }
            };
            let (done, failing, source) = if aws {
                let queue = required(&options, "--queue-url")?;
                let config = Store::aws_config().await;
                let poller = StreamPoller::on_aws(&store, &config).await?;
                let (done, failing) = redrive_queue(&poller, &config, queue, process).await?;
                (done, failing, queue.to_string())
            } else {
                let path = options.get("--file").map(PathBuf::from).unwrap_or_else(|| {
                    PathBuf::from(
                        std::env::var("GAMIFY_DATA_DIR").unwrap_or_else(|_| ".local".into()),
                    )
                    .join("stream-failures.jsonl")
                });
                let poller = StreamPoller::new(&store, &local_endpoint()).await?;
                let (done, failing) = stream::redrive(&poller, &path, process).await?;
                (done, failing, path.display().to_string())
            };
            print(json!({"redriven": done, "stillFailing": failing, "from": source}));
            if failing > 0 {
                return Err(format!(
                    "{failing} failure messages still fail; they stay in {source}"
                ));
            }
        }
        "reshard-lists" => {
            let moved = store.reshard_lists().await.map_err(|e| format!("{e:?}"))?;
            print(json!({"moved": moved}));
        }
        "reconcile" => {
            let tenant = Tenant::new(required(&options, "--account")?, environment(&options)?);
            let done = match options.get("--member") {
                Some(member) => {
                    let member = app::members::resolve(&store, &tenant, member)
                        .await
                        .map_err(|e| format!("member {member}: {e}"))?;
                    processor::reconcile::member(&store, &tenant, &member.id, now).await?
                }
                None => processor::reconcile::tenant(&store, &tenant, now).await?,
            };
            print(&done);
            if done.failed > 0 {
                return Err(format!(
                    "{} logs could not be applied; run reconcile again",
                    done.failed
                ));
            }
        }
        _ => unreachable!("every command of COMMANDS is handled"),
    }
    Ok(())
}

/// Re-drives the failure messages of an SQS queue (Lambda's on-failure destination): each
/// message's range is read from the stream and processed; a message whose records all succeed
/// is deleted, the others come back after their visibility timeout. Answers (re-driven, failing).
async fn redrive_queue<P, F>(
    poller: &StreamPoller,
    config: &aws_config::SdkConfig,
    queue_url: &str,
    process: P,
) -> Result<(usize, usize), String>
where
    P: Fn(aws_lambda_events::dynamodb::Event) -> F,
    F: std::future::Future<Output = Vec<String>>,
{
    let sqs = aws_sdk_sqs::Client::new(config);
    let (mut done, mut failing) = (0, 0);
    loop {
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .visibility_timeout(300)
            .send()
            .await
            .map_err(|e| format!("receive from {queue_url}: {e:?}"))?;
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok((done, failing));
        }
        for message in messages {
            let parsed: Result<FailureMessage, _> =
                serde_json::from_str(message.body().unwrap_or_default());
            let ok = match parsed {
                Ok(failure) => {
                    let event = poller.read_range(&failure.batch_info).await?;
                    process(event).await.is_empty()
                }
                Err(e) => {
                    eprintln!("not a stream failure message ({e}); left in the queue");
                    false
                }
            };
            if ok {
                if let Some(handle) = message.receipt_handle() {
                    sqs.delete_message()
                        .queue_url(queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .map_err(|e| format!("delete from {queue_url}: {e:?}"))?;
                }
                done += 1;
            } else {
                failing += 1;
            }
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(first) = args.first() else {
        eprintln!("{}", usage());
        return ExitCode::from(2);
    };
    if first == "--help" || first == "help" || first == "-h" {
        println!("{}", usage());
        return ExitCode::SUCCESS;
    }
    let Some(command) = COMMANDS.iter().find(|c| c.name == first) else {
        eprintln!("unknown command {first}\n\n{}", usage());
        return ExitCode::from(2);
    };
    let rest = &args[1..];
    if rest.iter().any(|a| a == "--help" || a == "-h") {
        println!("usage: gamify-admin {}\n\n{GLOBAL}", command.help);
        return ExitCode::SUCCESS;
    }
    let parsed = parse(command, rest).and_then(|(options, aws)| {
        for name in command.required {
            required(&options, name)?;
        }
        Ok((options, aws))
    });
    let (options, aws) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("{e}\nusage: gamify-admin {}", command.help);
            return ExitCode::from(2);
        }
    };
    match run(command, options, aws).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gamify-admin {}: {e}", command.name);
            ExitCode::FAILURE
        }
    }
}

//! Operator CLI (SPEC §1: accounts are created by an operator, not over HTTP).
//!
//! `gamify-admin create-account --name NAME` prints
//! `{"accountId":…,"name":…,"live":{"apiKey":…,"apiSecret":…,"publicKey":…},"test":{…}}`.
//! By default it writes to the local run's DynamoDB Local (`http://127.0.0.1:$DYNAMODB_PORT`, table
//! `gamify`); `DYNAMODB_ENDPOINT` and `TABLE_NAME` override; `--aws` uses the AWS credential chain.

use std::process::ExitCode;

use shared::store::Store;

const USAGE: &str = "usage: gamify-admin create-account --name NAME [--aws]\n\
  env: DYNAMODB_ENDPOINT (default http://127.0.0.1:${DYNAMODB_PORT:-8000}), TABLE_NAME (default gamify)";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut name = None;
    let mut aws = false;
    let mut iter = args.iter();
    let command = iter.next().map(String::as_str);
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--name" => name = iter.next().cloned(),
            "--aws" => aws = true,
            _ => {
                eprintln!("unknown argument {arg}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let (Some("create-account"), Some(name)) = (command, name.filter(|n| !n.trim().is_empty()))
    else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let table = std::env::var("TABLE_NAME").unwrap_or_else(|_| "gamify".into());
    let store = if aws {
        Store::new(Store::aws_client().await, table)
    } else {
        let endpoint = std::env::var("DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
            format!(
                "http://127.0.0.1:{}",
                std::env::var("DYNAMODB_PORT").unwrap_or_else(|_| "8000".into())
            )
        });
        Store::new(Store::local_client(&endpoint), table)
    };
    match shared::accounts::create(&store, &name).await {
        Ok(created) => {
            println!("{}", serde_json::to_string(&created).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "could not create the account in table {}: {e:?}",
                store.table()
            );
            ExitCode::FAILURE
        }
    }
}

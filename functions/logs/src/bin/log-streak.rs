#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let app = logs::App::from_env(shared::log::LogKind::Streak).await;
    shared::http::serve(|req| app.handle(req)).await
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let app = logs::App::from_env(domain::log::LogKind::Streak).await;
    app::http::serve(|req| app.handle(req)).await
}

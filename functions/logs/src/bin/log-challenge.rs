#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let app = logs::App::from_env(shared::log::LogKind::Challenge).await;
    shared::http::serve(|req| app.handle(req)).await
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let app = webhooks::App::from_env().await;
    app::http::serve(|req| app.handle(req)).await
}

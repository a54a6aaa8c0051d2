#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let app = programs::App::from_env().await;
    app::http::serve(|req| app.handle(req)).await
}

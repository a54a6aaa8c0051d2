#[tokio::main]
async fn main() -> Result<(), app::http::ServeError> {
    let app = leaderboards::App::from_env().await;
    app::http::serve(async |req| app.handle(req).await).await
}

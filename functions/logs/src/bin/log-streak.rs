#[tokio::main]
async fn main() -> Result<(), app::http::ServeError> {
    let app = logs::App::from_env(domain::log::LogKind::Streak).await;
    app::http::serve(async |req| app.handle(req).await).await
}

#[tokio::main]
async fn main() -> Result<(), app::http::ServeError> {
    let app = track_user::App::from_env().await;
    app::http::serve(async |req| app.handle(req).await).await
}

#[tokio::main]
async fn main() -> Result<(), app::http::ServeError> {
    let app = console::App;
    app::http::serve(async |req| app.handle(req).await).await
}

//! What the local run does in place of Lambda's event source mapping: poll, process, retry with
//! backoff, park what fails every retry, move the checkpoint; and the re-drive of parked ranges.

use aws_lambda_events::dynamodb::Event;

use domain::retry::Backoff;

use super::*;

/// How long a failing batch is retried while the store answers, before it is parked as a
/// failure message (Lambda's `MaximumRetryAttempts` + on-failure destination). While the store
/// does not answer, attempts do not count: an outage never parks anything.
pub const ATTEMPTS_BEFORE_PARKING: u32 = 8;

/// What the local run does in place of Lambda's event source mapping: reads batches after the
/// checkpoint and hands each to `settle`. An outage only waits (backoff with jitter); after
/// `give_up` without an answer from the store it returns an error.
pub async fn run<P, F, K>(
    poller: &mut StreamPoller,
    process: P,
    mut park: K,
    give_up: std::time::Duration,
) -> Result<(), String>
where
    P: Fn(Event) -> F,
    F: std::future::Future<Output = Vec<String>>,
    K: FnMut(Vec<FailureMessage>) -> Result<(), String>,
{
    let mut down_since: Option<std::time::Instant> = None;
    let mut failed_reads = 0;
    loop {
        let batch = match poller.next_batch().await {
            Ok(batch) => batch,
            Err(e) => {
                let since = *down_since.get_or_insert_with(std::time::Instant::now);
                if since.elapsed() >= give_up {
                    return Err(format!(
                        "the store has not answered for {} s ({e})",
                        since.elapsed().as_secs()
                    ));
                }
                tracing::warn!(error = %e, "reading the stream failed; retrying");
                tokio::time::sleep(Backoff::BATCH.delay(failed_reads)).await;
                failed_reads += 1;
                continue;
            }
        };
        (down_since, failed_reads) = (None, 0);
        if batch.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            continue;
        }
        settle(poller, batch, &process, &mut park, Backoff::BATCH, give_up).await?;
    }
}

/// Hands `batch` to `process` (which answers the sequence numbers that failed) and retries what
/// failed, with `backoff`, until it succeeds; what still fails after `ATTEMPTS_BEFORE_PARKING`
/// attempts made while the store answers is parked as failure messages (`park`, the on-failure
/// destination). Only then does the checkpoint move past the batch: nothing is dropped. A store
/// that has not answered for `give_up` is an error (the batch stays after the checkpoint).
pub async fn settle<P, F, K>(
    poller: &mut StreamPoller,
    batch: Batch,
    process: &P,
    park: &mut K,
    backoff: Backoff,
    give_up: std::time::Duration,
) -> Result<(), String>
where
    P: Fn(Event) -> F,
    F: std::future::Future<Output = Vec<String>>,
    K: FnMut(Vec<FailureMessage>) -> Result<(), String>,
{
    let mut pending = batch.event.clone();
    let (mut attempt, mut counted) = (0, 0);
    let mut down_since: Option<std::time::Instant> = None;
    loop {
        let failed = process(pending.clone()).await;
        if failed.is_empty() {
            break;
        }
        pending
            .records
            .retain(|r| failed.iter().any(|f| f == sequence(r)));
        attempt += 1;
        if poller.store_answers().await {
            counted += 1;
            down_since = None;
        } else if down_since
            .get_or_insert_with(std::time::Instant::now)
            .elapsed()
            >= give_up
        {
            return Err(format!(
                "the store has not answered for {} s",
                give_up.as_secs()
            ));
        }
        if counted >= ATTEMPTS_BEFORE_PARKING {
            let messages = poller.failure_messages(&batch, &failed, attempt);
            tracing::error!(
                ?messages,
                "stream records failed every retry; parked for `gamify-admin redrive`"
            );
            park(messages)?;
            break;
        }
        tracing::warn!(
            failed = failed.len(),
            attempt,
            "stream records failed; retrying"
        );
        tokio::time::sleep(backoff.delay(attempt)).await;
    }
    poller.commit(&batch)
}

/// Re-drives the failure messages kept at `path`: reads each one's records from the stream again
/// and hands them to `process`; the messages whose records all succeed leave the file, the others
/// stay. Answers (re-driven, still failing).
pub async fn redrive<P, F>(
    poller: &StreamPoller,
    path: &std::path::Path,
    process: P,
) -> Result<(usize, usize), String>
where
    P: Fn(Event) -> F,
    F: std::future::Future<Output = Vec<String>>,
{
    let mut still_failing = Vec::new();
    let mut done = 0;
    for message in read_failures(path)? {
        let event = poller.read_range(&message.batch_info).await?;
        if process(event).await.is_empty() {
            done += 1;
        } else {
            still_failing.push(message);
        }
    }
    let temporary = path.with_extension("tmp");
    let _ = std::fs::remove_file(&temporary);
    append_failures(&temporary, &still_failing)?;
    std::fs::rename(&temporary, path).map_err(|e| format!("replace {}: {e}", path.display()))?;
    Ok((done, still_failing.len()))
}

package io.faultline.call;

import io.faultline.signals.SignalStore;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.logging.Log;
import jakarta.inject.Singleton;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Forgets, with the calls, everything derived from them that names a user, a key or a team (README: "What is stored
 * where"). Daily partitions of {@code llm_calls} are dropped by {@link PartitionMaintenance}; this deletes, older than
 * the same cut-off: calls that landed in the default partition, episode links to users and calls (and the impact fold's
 * state of a subject that had such links, to be folded anew from the calls kept), whole episodes (their
 * deployment can be {@code user:<id>}; correlation members and edges go with them by cascade, their correlation
 * queue rows after them), impacts and the impact fold's state (its requests name users, keys and teams), closed
 * clusters, inbox rows, predictions' observed failures, data signals, predictions whose horizon ended and traffic
 * policy actions (but those a live policy entry needs), passive baselines but the newest of each scope, budget and
 * batch alerts and budget spend of finished periods, and batch expectations that no stored call refers to any more.
 */
@Singleton
public class Retention {

    /** Every parameter of each statement is the cut-off. Order matters: links before their episodes, queue after. */
    private static final Map<String, String> DELETES = new LinkedHashMap<>();

    static {
        DELETES.put("llm_calls_default", "delete from llm_calls_default where started_at < ?");
        DELETES.put("failure_event_users", "delete from failure_event_users where seen_at < ?");
        // The fold's state of a subject still open whose first calls go now: it holds their requests (users, keys,
        // teams) and counts them, where a fold anew and the full recomputation count the kept calls only. Dropped, the
        // next assessment folds the subject anew from what is kept. Before its links go; the cut-off is a day's start,
        // so a subject is folded anew at most once a day (impact_state holds the subjects of fold-kept-for only).
        DELETES.put("impact_state_of_dropped_calls", "delete from impact_state s where s.members && array(select"
                + " distinct l.failure_id from failure_event_calls l where l.seen_at < ?)");
        DELETES.put("failure_event_calls", "delete from failure_event_calls where seen_at < ?");
        DELETES.put("failure_events", "delete from failure_events where last_seen < ?");
        // A queued episode that failed every correlation attempt waits for its next change, which a deleted episode
        // never gets: its row would count in faultline_correlation_backlog_failed for ever (no parameter here).
        DELETES.put("correlation_queue", "delete from correlation_queue q where not exists (select 1 from"
                + " failure_events e where e.failure_id = q.failure_id)");
        DELETES.put("correlation_clusters", "delete from correlation_clusters where status = 'closed' and last_seen < ?");
        // Where an absorbed cluster went, kept as long as the calls: after that its address is a plain 404.
        DELETES.put("correlation_merges", "delete from correlation_merges where merged_at < ?");
        // Where an absorbed episode went, the same.
        DELETES.put("failure_merges", "delete from failure_merges where merged_at < ?");
        DELETES.put("failure_impacts", "delete from failure_impacts where last_seen < ?");
        // The fold's per-request users, keys and teams go by cascade, however long faultline.impact.fold-kept-for.
        DELETES.put("impact_state", "delete from impact_state where last_seen < ?");
        DELETES.put("failure_inbox", "delete from failure_inbox where occurred_at < ?");
        DELETES.put("observed_failures", "delete from observed_failures where last_seen < ?");
        // Received before the cut-off too: a signal's id keeps it idempotent for the retention after it came in,
        // however late it was reported (see SignalStore#deleteBefore).
        DELETES.put("data_signals", SignalStore.DELETE_BEFORE);
        // A horizon that ended before the cut-off: resolved (or never will be, by a predictor stopped as long) and
        // made before it, so the accuracy of any range inside the retention keeps every prediction it counts, as
        // observed_failures keeps every failure begun inside it. The one a live traffic-policy entry names stays.
        DELETES.put("failure_predictions", "delete from failure_predictions p where horizon_ends_at < ? and not"
                + " exists (select 1 from traffic_policy t where t.prediction_id = p.prediction_id)");
        // The history of a deployment's entry still in force stays, however old (an operator's pin without end); a
        // change recorded before V55 without a provider stays with any provider's entry of its deployment.
        DELETES.put("traffic_policy_actions", "delete from traffic_policy_actions a where at < ? and not exists"
                + " (select 1 from traffic_policy t where t.deployment = a.deployment and a.at >= t.since"
                + " and (a.provider is null or t.provider = a.provider))");
        // Learnt every 15 minutes per group and metric, and read every minute for the newest of each scope: kept
        // for ever they grew without bound. The newest of a scope stays its reference, a profile run an operator's.
        DELETES.put("provider_baselines", "delete from provider_baselines b where b.source = 'passive'"
                + " and b.measured_at < ? and exists (select 1 from provider_baselines n where n.provider = b.provider"
                + " and n.metric_name = b.metric_name and n.model is not distinct from b.model and n.deployment is not"
                + " distinct from b.deployment and n.source = b.source and n.measured_at > b.measured_at)");
        // Only alerts of a period that is over: deleting the alert of a running period would raise it again.
        DELETES.put("budget_alerts", "delete from budget_alerts where crossed_at < ? and period_start"
                + " + case period when 'day' then interval '1 day' else interval '1 month' end < ?");
        // A budget's spend in a period that is over, as its calls go (the rows name teams, keys and users).
        DELETES.put("budget_spend", "delete from budget_spend where period_start < ? and period_start"
                + " + case period when 'day' then interval '1 day' else interval '1 month' end < ?");
        DELETES.put("batches", "delete from batches b where updated_at < ? and not exists (select 1 from llm_calls"
                + " where coalesce(requester_metadata ->> 'batch_id', requester_metadata ->> 'job_id') = b.batch_id)");
        DELETES.put("batch_alerts", "delete from batch_alerts a where crossed_at < ? and not exists (select 1 from"
                + " batches b where b.batch_id = a.batch_id)");
    }

    private final MeterRegistry registry;
    private final Map<String, Counter> deleted = new LinkedHashMap<>();

    public Retention(MeterRegistry registry) {
        this.registry = registry;
        for (String table : DELETES.keySet()) {
            deleted.put(table, Counter.builder("faultline.retention.deleted.rows").tag("table", table)
                    .description("Rows the retention job deleted because they were older than the call retention")
                    .register(registry));
        }
    }

    /** Tables this job prunes, besides the daily partitions of {@code llm_calls}. */
    public static List<String> tables() {
        return List.copyOf(DELETES.keySet());
    }

    /** Each table's delete, every parameter the cut-off: what the job runs, for its plans to be checked. */
    static Map<String, String> statements() {
        return java.util.Collections.unmodifiableMap(DELETES);
    }

    /** Deletes what is older than {@code cutoff}; answers the rows deleted per table. */
    public Map<String, Long> prune(Connection connection, Instant cutoff) throws SQLException {
        Map<String, Long> counts = new LinkedHashMap<>();
        Timestamp at = Timestamp.from(cutoff);
        for (Map.Entry<String, String> delete : DELETES.entrySet()) {
            String sql = delete.getValue();
            try (PreparedStatement st = connection.prepareStatement(sql)) {
                int parameters = st.getParameterMetaData().getParameterCount();
                for (int i = 1; i <= parameters; i++) {
                    st.setTimestamp(i, at);
                }
                long rows = st.executeLargeUpdate();
                counts.put(delete.getKey(), rows);
                deleted.get(delete.getKey()).increment(rows);
            }
        }
        long total = counts.values().stream().mapToLong(Long::longValue).sum();
        if (total > 0) {
            Log.infof("Retention: deleted %d rows older than %s %s", total, cutoff, counts);
        }
        return counts;
    }
}

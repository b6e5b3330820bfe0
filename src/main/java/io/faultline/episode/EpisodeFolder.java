package io.faultline.episode;

import io.agroal.api.AgroalDataSource;
import io.faultline.common.ClusterJobs;
import io.faultline.episode.EpisodeStore.EpisodeChange;
import io.faultline.taxonomy.Failure;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.logging.Log;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.faultline.common.DatabaseReady;
import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Instance;
import jakarta.inject.Singleton;
import org.eclipse.microprofile.config.inject.ConfigProperty;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Folds inbox failures into episodes. Concurrent requests are combined: whoever holds the folding lock folds every
 * request waiting at that moment in one transaction, so that one commit serves many requests instead of each request
 * queueing behind the others' locks on the same hot episodes. A failure is folded by whoever deletes its inbox row,
 * which makes folding exactly-once between live requests and the recovery job.
 */
@Singleton
public class EpisodeFolder implements io.faultline.common.BoundedState {

    /** Deployment activity, written at most once a minute per deployment (see {@link #touch}). */
    public record DeploymentSeen(String provider, String deployment, Instant at) {
    }

    private record Pending(List<Failure> failures, List<DeploymentSeen> seen, CompletableFuture<Integer> opened) {
    }

    /** The recovery job's name in {@code scheduled_job_runs} and on {@code faultline_scheduled_job_runs_total}. */
    static final String RECOVERY_JOB = "inbox-recovery";
    private static final Duration TOUCH_EVERY = Duration.ofMinutes(1);
    private static final Duration STRANDED_AFTER = Duration.ofSeconds(30);
    private static final int MAX_TRACKED_DEPLOYMENTS = 10_000;

    private final AgroalDataSource dataSource;
    private final EpisodeStore episodes;
    private final FailureInbox inbox;
    private final Counter recovered;
    private final Counter foldFailures;
    private final Counter merged;
    private final ConcurrentLinkedQueue<Pending> waiting = new ConcurrentLinkedQueue<>();
    private final ReentrantLock folding = new ReentrantLock();
    private final Map<String, Instant> lastTouched = new java.util.concurrent.ConcurrentHashMap<>();
    private final List<EpisodeObserver> observers;

    private final ClusterJobs jobs;
    private final Duration recoveryEvery;

    /** Deployments whose last activity write is remembered, and failures waiting for the folding lock. */
    @Override
    public List<Held> boundedMaps() {
        return List.of(new Held("episode.deployments-touched", MAX_TRACKED_DEPLOYMENTS, lastTouched::size),
                new Held("episode.waiting", 0, waiting::size));
    }

    public EpisodeFolder(AgroalDataSource dataSource, EpisodeStore episodes, FailureInbox inbox,
            MeterRegistry registry, Instance<EpisodeObserver> observers, ClusterJobs jobs,
            @ConfigProperty(name = "faultline.inbox.recovery-every", defaultValue = "60s") Duration recoveryEvery) {
        this.jobs = jobs;
        this.recoveryEvery = recoveryEvery;
        this.observers = observers.stream().toList();
        this.dataSource = dataSource;
        this.episodes = episodes;
        this.inbox = inbox;
        this.recovered = Counter.builder("faultline.inbox.recovered")
                .description("Failures folded by the recovery job after their request died").register(registry);
        this.foldFailures = Counter.builder("faultline.fold.failures")
                .description("Fold transactions that failed; their failures stay in the inbox").register(registry);
        this.merged = Counter.builder("faultline.episodes.merged")
                .description("Failure episodes a late failure merged into an older one of their fingerprint")
                .register(registry);
    }

    /** Which of these deployment sightings are worth writing (new, or last written over a minute ago). */
    public List<DeploymentSeen> touch(List<DeploymentSeen> seen) {
        List<DeploymentSeen> due = new ArrayList<>();
        for (DeploymentSeen s : seen) {
            String key = s.provider() + "\u0000" + s.deployment();
            Instant last = lastTouched.get(key);
            if (last == null || s.at().isAfter(last.plus(TOUCH_EVERY))) {
                if (lastTouched.size() >= MAX_TRACKED_DEPLOYMENTS) {
                    lastTouched.clear(); // bounded: forgetting only costs a redundant write
                }
                lastTouched.put(key, s.at());
                due.add(s);
            }
        }
        return due;
    }

    /**
     * Folds the failures (already durable in the inbox) and records deployment activity; returns how many episodes
     * this call opened. When folding fails the failures stay in the inbox for the recovery job, so this returns 0.
     */
    public int fold(List<Failure> failures, List<DeploymentSeen> seen) {
        Pending mine = new Pending(failures, seen, new CompletableFuture<>());
        waiting.add(mine);
        List<EpisodeChange> changes = List.of();
        folding.lock();
        try {
            if (!mine.opened().isDone()) {
                List<Pending> group = new ArrayList<>();
                for (Pending next; (next = waiting.poll()) != null; ) {
                    group.add(next);
                }
                changes = foldGroup(group);
            }
        } finally {
            folding.unlock();
        }
        // The leader of a group counts the merges and tells the observers, after the commit and outside the lock
        // that folds queue for.
        committed(changes);
        try {
            return mine.opened().join();
        } catch (CompletionException e) {
            return 0;
        }
    }

    private List<EpisodeChange> foldGroup(List<Pending> group) {
        List<EpisodeChange> changes = new ArrayList<>();
        try {
            int[] opened = QuarkusTransaction.requiringNew().call(() -> {
                changes.clear();
                try (Connection connection = dataSource.getConnection()) {
                    List<DeploymentSeen> seen = new ArrayList<>();
                    List<Failure> all = new ArrayList<>();
                    Map<UUID, Integer> requestOf = new HashMap<>();
                    for (int i = 0; i < group.size(); i++) {
                        seen.addAll(group.get(i).seen());
                        for (Failure f : group.get(i).failures()) {
                            all.add(f);
                            requestOf.put(f.failureId(), i);
                        }
                    }
                    // First, so that a provider-wide severity counts the deployments just seen as active; in the
                    // claim's round trip, which relaxes the commit (without failures, in the relaxing statement's).
                    EpisodeStore.Ahead deployments = deployments(seen);
                    List<EpisodeChange> folded = List.of();
                    if (all.isEmpty()) {
                        relaxCommit(connection, deployments);
                    } else {
                        folded = episodes.claimAndRecord(connection, all, foldWrites(), deployments);
                    }
                    int[] counts = new int[group.size()];
                    for (EpisodeChange change : folded) {
                        changes.add(change);
                        Integer request = requestOf.get(change.failureId());
                        if (change.opened() && request != null) {
                            counts[request]++;
                        }
                    }
                    return counts;
                }
            });
            for (int i = 0; i < group.size(); i++) {
                group.get(i).opened().complete(opened[i]);
            }
            return changes;
        } catch (RuntimeException e) {
            foldFailures.increment();
            Log.errorf(e, "Folding %d requests failed; their failures stay in the inbox for recovery", group.size());
            group.forEach(p -> p.opened().completeExceptionally(e));
            return List.of();
        }
    }

    /** The observers' durable part of the fold, written with it (a failure fails the fold: nothing is lost). */
    private List<EpisodeObserver.FoldWrite> foldWrites() {
        List<EpisodeObserver.FoldWrite> writes = new ArrayList<>();
        for (EpisodeObserver observer : observers) {
            EpisodeObserver.FoldWrite write = observer.foldWrite();
            if (write != null) {
                writes.add(write);
            }
        }
        return writes;
    }

    /**
     * What a committed fold changed: its merges are counted (only once committed: a fold that rolls back is folded
     * again by the recovery job, which would count its merges twice) and the observers are told.
     */
    private void committed(List<EpisodeChange> changes) {
        if (changes.isEmpty()) {
            return;
        }
        merged.increment(changes.stream().mapToInt(EpisodeChange::absorbed).sum());
        for (EpisodeObserver observer : observers) {
            try {
                observer.folded(changes);
            } catch (RuntimeException e) {
                Log.errorf(e, "%s could not follow %d folded episodes", observer.getClass().getSimpleName(),
                        changes.size());
            }
        }
    }

    void recoverAtStart(@Observes DatabaseReady start) {
        recoverStranded();
    }

    /** Cluster-wide: one replica looks for stranded failures per interval. */
    @Scheduled(every = "${faultline.inbox.recovery-every:60s}", delayed = "${faultline.inbox.recovery-every:60s}",
            concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void recoveryTick() {
        jobs.runOnce(RECOVERY_JOB, recoveryEvery, this::recoverStranded);
    }

    /** Folds failures whose request died after committing its calls and before folding them. */
    void recoverStranded() {
        try {
            int folded;
            do {
                List<EpisodeChange> changes = new ArrayList<>();
                folded = QuarkusTransaction.requiringNew().call(() -> {
                    changes.clear();
                    try (Connection connection = dataSource.getConnection()) {
                        relaxCommit(connection, null);
                        List<Failure> stranded = inbox.stranded(connection, STRANDED_AFTER, 1000);
                        if (!stranded.isEmpty()) {
                            inbox.remove(connection, stranded.stream().map(Failure::failureId).toList());
                            changes.addAll(episodes.record(connection, stranded, foldWrites()));
                        }
                        return stranded.size();
                    }
                });
                committed(changes);
                recovered.increment(folded);
                if (folded > 0) {
                    Log.infof("Recovered %d stranded failures from the inbox", folded);
                }
            } while (folded == 1000);
        } catch (RuntimeException e) {
            Log.errorf(e, "Inbox recovery failed; it runs again in a minute");
        }
    }

    /** Lets the fold's transaction commit without waiting for the disk (why: {@link #relaxCommit}). */
    static final String RELAX_COMMIT = "select set_config('synchronous_commit', 'off', true)";

    /**
     * A fold need not wait for its commit to reach the disk: the failures it folds are already durable in the inbox,
     * and a fold lost to a database crash is lost whole, inbox deletions included, so recovery folds it again. This
     * takes the fsync out of the one section that concurrent requests queue for.
     */
    private static void relaxCommit(Connection connection, EpisodeStore.Ahead ahead) throws SQLException {
        try (PreparedStatement st = connection.prepareStatement(
                (ahead == null ? "" : ahead.sql() + "; ") + RELAX_COMMIT)) {
            if (ahead != null) {
                ahead.bind(connection, st, 1);
            }
            st.execute();
        }
    }

    /**
     * The deployments' activity as one upsert (null when there is none), one row per deployment in key order, so
     * that two folds take the rows' locks in one order.
     */
    private static EpisodeStore.Ahead deployments(List<DeploymentSeen> seen) {
        Map<String, DeploymentSeen> latest = new TreeMap<>();
        for (DeploymentSeen s : seen) {
            latest.merge(s.provider() + "\u0000" + s.deployment(), s, (a, b) -> a.at().isAfter(b.at()) ? a : b);
        }
        if (latest.isEmpty()) {
            return null;
        }
        return new EpisodeStore.Ahead() {
            @Override
            public String sql() {
                return "insert into provider_deployments (provider, deployment, last_seen) select p, d, t"
                        + " from unnest(?::text[], ?::text[], ?::timestamptz[]) with ordinality as s(p, d, t, n)"
                        + " order by n on conflict (provider, deployment)"
                        + " do update set last_seen = greatest(provider_deployments.last_seen, excluded.last_seen)";
            }

            @Override
            public int bind(Connection c, PreparedStatement st, int index) throws SQLException {
                st.setArray(index, c.createArrayOf("text",
                        latest.values().stream().map(DeploymentSeen::provider).toArray()));
                st.setArray(index + 1, c.createArrayOf("text",
                        latest.values().stream().map(DeploymentSeen::deployment).toArray()));
                st.setArray(index + 2, c.createArrayOf("timestamptz",
                        latest.values().stream().map(s -> s.at().atOffset(ZoneOffset.UTC)).toArray()));
                return index + 3;
            }
        };
    }
}

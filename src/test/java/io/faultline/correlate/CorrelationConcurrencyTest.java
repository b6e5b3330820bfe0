package io.faultline.correlate;

import io.agroal.api.AgroalDataSource;
import io.faultline.episode.EpisodeStore.EpisodeChange;
import io.faultline.taxonomy.Severity;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Replicas correlating the episodes of one incident at the same moment open one cluster, not one each: the engine
 * serialises on a PostgreSQL advisory lock. The episodes are written straight into failure_events (as folds on other
 * replicas would have committed them) and correlated by several threads released together, directly or through the
 * drain of the queue the folds write.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class CorrelationConcurrencyTest {

    private static final List<String> PROVIDERS = List.of("openai", "anthropic", "gemini", "openai");

    @Inject
    AgroalDataSource dataSource;

    @Inject
    FailureCorrelationEngine engine;

    @Inject
    TestClock clock;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    @Test
    void episodes_of_one_incident_correlated_at_once_by_several_threads_open_one_cluster() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(PROVIDERS.size());
        try {
            for (int round = 0; round < 8; round++) {
                Instant t0 = Instant.parse("2029-04-02T00:00:00Z").plus(Duration.ofHours(round));
                clock.set(t0.plus(Duration.ofMinutes(2)));
                List<UUID> episodes = new ArrayList<>();
                for (int i = 0; i < PROVIDERS.size(); i++) {
                    episodes.add(insertEpisode(PROVIDERS.get(i), "dep-" + UUID.randomUUID(), t0.plusSeconds(i * 15)));
                }
                CyclicBarrier start = new CyclicBarrier(episodes.size());
                List<Future<?>> done = new ArrayList<>();
                for (UUID episode : episodes) {
                    done.add(pool.submit(() -> {
                        start.await(30, TimeUnit.SECONDS);
                        return engine.correlateFailures(List.of(episode));
                    }));
                }
                for (Future<?> f : done) {
                    f.get(60, TimeUnit.SECONDS);
                }
                List<List<Object>> clusters = clustersOf(episodes);
                assertThat(clusters).as("round %d: one cluster, holding every episode", round).hasSize(1);
                assertThat((long) clusters.get(0).get(1)).isEqualTo(episodes.size());
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void replicas_draining_one_queue_at_once_correlate_each_episode_into_one_cluster() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(PROVIDERS.size());
        try {
            for (int round = 0; round < 4; round++) {
                Instant t0 = Instant.parse("2029-05-02T00:00:00Z").plus(Duration.ofHours(round));
                clock.set(t0.plus(Duration.ofMinutes(2)));
                List<UUID> episodes = new ArrayList<>();
                for (int i = 0; i < PROVIDERS.size(); i++) {
                    episodes.add(insertEpisode(PROVIDERS.get(i), "dep-" + UUID.randomUUID(), t0.plusSeconds(i * 15)));
                }
                // Queued as the folds that wrote them would have queued them, one fold per episode.
                try (Connection c = dataSource.getConnection()) {
                    for (UUID id : episodes) {
                        engine.recordInFold(c, List.of(new EpisodeChange(id, "f", true, Severity.P3)));
                    }
                }
                CyclicBarrier start = new CyclicBarrier(PROVIDERS.size());
                List<Future<?>> done = new ArrayList<>();
                for (int i = 0; i < PROVIDERS.size(); i++) {
                    boolean scheduled = i % 2 == 0; // the job's run (skips when locked) beside a waiting drain
                    done.add(pool.submit(() -> {
                        start.await(30, TimeUnit.SECONDS);
                        return scheduled ? engine.drainBatch(false) : engine.drain();
                    }));
                }
                for (Future<?> f : done) {
                    f.get(60, TimeUnit.SECONDS);
                }
                List<List<Object>> clusters = clustersOf(episodes);
                assertThat(clusters).as("round %d: one cluster, holding every episode", round).hasSize(1);
                assertThat((long) clusters.get(0).get(1)).isEqualTo(episodes.size());
                assertThat(queued(episodes)).as("round %d: every queue row done", round).isZero();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private long queued(List<UUID> episodes) throws Exception {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select count(*) from correlation_queue where failure_id = any (?)")) {
            st.setArray(1, c.createArrayOf("uuid", episodes.toArray()));
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    private UUID insertEpisode(String provider, String deployment, Instant at) throws Exception {
        UUID id = UUID.randomUUID();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement("insert into"
                + " failure_events (failure_id, fingerprint, category, type, severity, provider, deployment,"
                + " detection_method, evidence, impact_scope, first_seen, last_seen, occurrences, affected_requests,"
                + " affected_users) values (?, ?, 'PROVIDER', 'outage', 'P3', ?, ?, 'provider.status', '{}'::jsonb,"
                + " '{}'::jsonb, ?, ?, 1, 1, 0)")) {
            st.setObject(1, id);
            st.setString(2, "PROVIDER|outage|" + provider + "|" + deployment);
            st.setString(3, provider);
            st.setString(4, deployment);
            st.setTimestamp(5, Timestamp.from(at));
            st.setTimestamp(6, Timestamp.from(at.plusSeconds(5)));
            st.executeUpdate();
        }
        return id;
    }

    /** (cluster id, members among these episodes) of every cluster holding any of them. */
    private List<List<Object>> clustersOf(List<UUID> episodes) throws Exception {
        List<List<Object>> rows = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement("select cluster_id,"
                + " count(*) from correlation_members where failure_id = any (?) group by cluster_id")) {
            st.setArray(1, c.createArrayOf("uuid", episodes.toArray()));
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    rows.add(List.of(rs.getObject(1, UUID.class), rs.getLong(2)));
                }
            }
        }
        return rows;
    }
}

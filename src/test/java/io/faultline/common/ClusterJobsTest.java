package io.faultline.common;

import io.agroal.api.AgroalDataSource;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
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
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Two guards on the real PostgreSQL, each with its own connections and owner, play two replicas whose schedules tick
 * at different phases of the same interval; the test clock moves time. Each job runs once per interval across both,
 * never twice, and a replica alone still runs every tick despite the scheduler's jitter.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ClusterJobsTest {

    private static final Duration MINUTE = Duration.ofSeconds(60);
    private static final Instant T0 = Instant.parse("2026-03-02T10:00:00Z");

    @Inject
    TestClock clock;

    @Inject
    AgroalDataSource dataSource;

    private SimpleMeterRegistry registryA;
    private SimpleMeterRegistry registryB;
    private ClusterJobs replicaA;
    private ClusterJobs replicaB;
    private String job;

    @BeforeEach
    void twoReplicas() {
        registryA = new SimpleMeterRegistry();
        registryB = new SimpleMeterRegistry();
        replicaA = new ClusterJobs(dataSource, clock, () -> true, registryA, "replica-a");
        replicaB = new ClusterJobs(dataSource, clock, () -> true, registryB, "replica-b");
        job = "test-" + UUID.randomUUID();
        clock.set(T0);
    }

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    @Test
    void replicas_ticking_seconds_apart_run_the_job_once_per_interval() {
        int ticks = 30;
        for (int offset : new int[] { 3, 40, 59 }) {
            String phased = job + "-" + offset;
            List<Instant> runs = new ArrayList<>();
            for (int k = 0; k < ticks; k++) {
                clock.set(T0.plus(MINUTE.multipliedBy(k)));
                replicaA.runOnce(phased, MINUTE, () -> runs.add(clock.instant()));
                clock.set(T0.plus(MINUTE.multipliedBy(k)).plusSeconds(offset));
                replicaB.runOnce(phased, MINUTE, () -> runs.add(clock.instant()));
            }
            for (int i = 1; i < runs.size(); i++) {
                assertThat(Duration.between(runs.get(i - 1), runs.get(i)))
                        .as("B ticks %d s after A: never two runs within an interval less the slack", offset)
                        .isGreaterThanOrEqualTo(MINUTE.minus(ClusterJobs.slack(MINUTE)));
            }
            // Both replicas tick 30 times each; a replica alone would run 30 times. 59 s apart, A's first tick
            // and then each of B's (58 s or more after the previous run) are due: 31 runs over 30 min 59 s.
            assertThat(runs).as("B ticks %d s after A", offset).hasSize(offset < 58 ? ticks : ticks + 1);
            assertThat(stored(phased, "runs")).isEqualTo(runs.size());
            assertThat(counted(registryA, phased) + counted(registryB, phased))
                    .as("the replicas' counters add up to the stored runs").isEqualTo(runs.size());
        }
    }

    @Test
    void two_replicas_claiming_at_the_same_instant_run_once() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            int rounds = 20;
            int total = 0;
            for (int k = 0; k < rounds; k++) {
                clock.set(T0.plus(MINUTE.multipliedBy(k)));
                CyclicBarrier together = new CyclicBarrier(2);
                Future<Boolean> a = pool.submit(() -> {
                    together.await(10, TimeUnit.SECONDS);
                    return replicaA.claim(job, MINUTE);
                });
                Future<Boolean> b = pool.submit(() -> {
                    together.await(10, TimeUnit.SECONDS);
                    return replicaB.claim(job, MINUTE);
                });
                int won = (a.get(30, TimeUnit.SECONDS) ? 1 : 0) + (b.get(30, TimeUnit.SECONDS) ? 1 : 0);
                assertThat(won).as("round %d: exactly one replica claims", k).isEqualTo(1);
                total += won;
            }
            assertThat(stored(job, "runs")).isEqualTo(total);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void a_replica_alone_runs_every_tick_even_when_the_scheduler_fires_a_little_early() {
        AtomicInteger runs = new AtomicInteger();
        for (int k = 0; k < 10; k++) {
            // A tick up to a second early (the scheduler checks its triggers once a second) is still due.
            clock.set(T0.plus(MINUTE.multipliedBy(k)).minusMillis(k % 2 == 0 ? 0 : 950));
            replicaA.runOnce(job, MINUTE, runs::incrementAndGet);
        }
        assertThat(runs.get()).isEqualTo(10);
        assertThat(stored(job, "owner")).isEqualTo("replica-a");
    }

    @Test
    void a_run_records_its_end_and_a_killed_run_does_not_block_the_next_interval() {
        assertThat(replicaA.claim(job, MINUTE)).isTrue(); // and dies: no finished()
        assertThat(stored(job, "last_finished_at")).isNull();
        clock.set(T0.plusSeconds(30));
        assertThat(replicaB.claim(job, MINUTE)).as("within the interval of the dead run").isFalse();
        clock.set(T0.plus(MINUTE));
        AtomicInteger runs = new AtomicInteger();
        assertThat(replicaB.runOnce(job, MINUTE, runs::incrementAndGet)).isTrue();
        assertThat(runs.get()).isEqualTo(1);
        assertThat(stored(job, "owner")).isEqualTo("replica-b");
        assertThat(stored(job, "last_finished_at")).isEqualTo(java.sql.Timestamp.from(T0.plus(MINUTE)));
    }

    @Test
    void a_clock_that_went_back_past_an_interval_does_not_stop_the_job() {
        clock.set(T0.plus(Duration.ofDays(1)));
        assertThat(replicaA.claim(job, MINUTE)).isTrue();
        clock.set(T0);
        assertThat(replicaB.claim(job, MINUTE)).isTrue();
        clock.set(T0.plusSeconds(10));
        assertThat(replicaA.claim(job, MINUTE)).isFalse();
    }

    @Test
    void nothing_is_claimed_before_the_schema_is_migrated() {
        ClusterJobs starting = new ClusterJobs(dataSource, clock, () -> false, registryA, "replica-starting");
        AtomicInteger runs = new AtomicInteger();
        assertThat(starting.runOnce(job, MINUTE, runs::incrementAndGet)).isFalse();
        assertThat(runs.get()).isZero();
        assertThat(stored(job, "runs")).isNull();
        assertThat(registryA.get("faultline.scheduled.job.skips").tag("job", job).tag("reason", "not_ready")
                .counter().count()).isEqualTo(1.0);
    }

    @Test
    void nothing_is_claimed_once_a_graceful_stop_began() {
        // The container takes the pool and the transaction manager down next: a job started now would be cut.
        ClusterJobs stopping = new ClusterJobs(dataSource, clock, () -> true, registryA, "replica-stopping");
        stopping.onStop(null);
        AtomicInteger runs = new AtomicInteger();
        assertThat(stopping.runOnce(job, MINUTE, runs::incrementAndGet)).isFalse();
        assertThat(runs.get()).isZero();
        assertThat(stopping.ready()).isFalse();
        assertThat(stopping.migrated()).as("the stop's own work, such as writing buffers, still runs").isTrue();
        assertThat(registryA.get("faultline.scheduled.job.skips").tag("job", job).tag("reason", "stopping")
                .counter().count()).isEqualTo(1.0);
    }

    @Test
    void the_slack_is_a_quarter_of_short_intervals_and_two_seconds_at_most() {
        assertThat(ClusterJobs.slack(Duration.ofSeconds(4))).isEqualTo(Duration.ofSeconds(1));
        assertThat(ClusterJobs.slack(Duration.ofMinutes(15))).isEqualTo(Duration.ofSeconds(2));
        assertThat(ClusterJobs.every("60s")).isEqualTo(MINUTE);
        assertThat(ClusterJobs.every("PT1H")).isEqualTo(Duration.ofHours(1));
    }

    private static double counted(SimpleMeterRegistry registry, String job) {
        var counter = registry.find("faultline.scheduled.job.runs").tag("job", job).counter();
        return counter == null ? 0 : counter.count();
    }

    private Object stored(String job, String column) {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select " + column + " from scheduled_job_runs where job = ?")) {
            st.setString(1, job);
            try (ResultSet rs = st.executeQuery()) {
                if (!rs.next()) {
                    return null;
                }
                Object value = rs.getObject(1);
                return value instanceof Long l ? (Object) l.intValue() : value;
            }
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
        }
    }
}

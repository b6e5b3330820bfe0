package io.faultline.impact;

import io.agroal.api.AgroalDataSource;
import io.faultline.testing.Api;
import io.faultline.testing.Metrics;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.assertj.core.data.Offset;
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

import static io.faultline.impact.ImpactTestData.AN_IN;
import static io.faultline.impact.ImpactTestData.AN_OUT;
import static io.faultline.impact.ImpactTestData.OA_IN;
import static io.faultline.impact.ImpactTestData.OA_OUT;
import static io.faultline.impact.ImpactTestData.priced;
import static io.faultline.impact.ImpactTestData.request;
import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The incremental assessment ({@link ImpactFold}) equals the full recomputation ({@link FailureImpactAssessor#assessFull},
 * one query over every attempt) on replayed traffic, at every step: after a first assessment, after calls that arrive
 * later (new failed-over requests, a late fallback that turns a failed response into a recovered one), after a
 * member episode that shares a request joins the cluster, after a quality episode flags one of its answers, and when
 * the state is folded anew from nothing.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ImpactFoldTest {

    static final Offset<Double> FLOAT_NOISE = Offset.offset(1e-9);

    @Inject
    TestClock clock;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    FailureImpactAssessor assessor;

    @Inject
    SloService slos;

    @AfterEach
    void releaseClock() throws Exception {
        clock.release();
        SloRollupPosition.forget(dataSource);
    }

    /**
     * The re-assessment folds every subject in one transaction; a writer that begins after the first subject's fold
     * must still hold the next subject's watermark back, or the links it commits later are never counted.
     */
    @Test
    void the_links_watermark_of_a_long_transaction_still_waits_for_a_writer_that_began_within_it() throws Exception {
        try (Connection assessor = dataSource.getConnection(); Connection writer = dataSource.getConnection()) {
            assessor.setAutoCommit(false);
            ImpactFold.linksWatermark(assessor); // the first subject's fold reads pg_stat_activity
            writer.setAutoCommit(false);
            Timestamp writerStart;
            try (PreparedStatement st = writer.prepareStatement("select txid_current(), now()");
                    ResultSet rs = st.executeQuery()) {
                rs.next();
                writerStart = rs.getTimestamp(2);
            }
            Timestamp second = ImpactFold.linksWatermark(assessor);
            assertThat(second).as("the next subject's watermark").isBeforeOrEqualTo(writerStart);
            writer.rollback();
            assessor.rollback();
        }
    }

    @Test
    void the_incremental_assessment_equals_the_full_recomputation_as_calls_and_members_arrive() throws Exception {
        Instant t0 = Instant.parse("2031-10-01T10:00:00Z");
        clock.set(t0.plus(Duration.ofMinutes(5)));
        ImpactTestData.Incident inc = ImpactTestData.replay(t0);
        UUID outage = UUID.fromString(episodeOf(inc.primary(), "outage"));
        UUID overloaded = UUID.fromString(episodeOf(inc.fallback(), "overloaded"));
        UUID cluster = cluster(t0, outage);
        // A latency SLO of 3 s: the requests answered by the fallback took 2.42 s end to end (200 ms failure, the
        // fallback 2 s later in 420 ms), the one answered by a late fallback 3.42 s.
        slos.put(inc.group(), 0.995, Duration.ofDays(30), 3000.0, 0.99).orElseThrow();

        Assessment first = same(outage, null);
        assertThat(first.userImpact().affectedRequests()).isEqualTo(4);
        assertThat(first.userImpact().failedResponses()).isEqualTo(2);
        assertThat(first.slaImpact().answeredRequests()).isEqualTo(2);
        assertThat(first.slaImpact().slowRequests()).isZero();
        Assessment firstCluster = same(null, cluster);
        assertThat(firstCluster.userImpact().affectedRequests()).isEqualTo(4);
        same(overloaded, null);

        // Calls arrive after the first assessment: request 3 (no fallback so far) is answered by a late fallback,
        // and three new requests fail over to the pricier model (one by a new user u9).
        clock.set(t0.plus(Duration.ofMinutes(6)));
        String user = "u9";
        List<Payloads> later = new ArrayList<>();
        later.add(request(priced(Payloads.success("anthropic", "imp-fb-" + inc.suffix(), inc.fallback(),
                t0.plusSeconds(63)).tokens(200, 10, 0, 0).set("response_cost", 200 * AN_IN + 10 * AN_OUT), AN_IN,
                AN_OUT), "imp-req-3-" + inc.suffix(), UUID.randomUUID().toString(), "u3"));
        for (int r = 4; r < 7; r++) {
            String call = "imp-req-" + r + "-" + inc.suffix();
            String trace = UUID.randomUUID().toString();
            Instant at = t0.plusSeconds(70 + r * 10L);
            later.add(request(priced(Payloads.failure("openai", inc.group(), inc.primary(), at, 503,
                    "ServiceUnavailableError", "Service Unavailable"), OA_IN, OA_OUT), call, trace, r == 6 ? user : "u1"));
            later.add(request(priced(Payloads.success("anthropic", "imp-fb-" + inc.suffix(), inc.fallback(),
                    at.plusSeconds(2)).tokens(120, 40, 0, 0).set("response_cost", 120 * AN_IN + 40 * AN_OUT), AN_IN,
                    AN_OUT), call, trace, r == 6 ? user : "u1"));
        }
        Api.ingest(Payloads.array(later.toArray(Payloads[]::new))).statusCode(200);
        Assessment grown = same(outage, null);
        assertThat(grown.userImpact().affectedRequests()).isEqualTo(7);
        assertThat(grown.userImpact().failedResponses()).as("request 3 was answered late; request 2 failed on both")
                .isEqualTo(1);
        assertThat(grown.userImpact().affectedUsers()).isEqualTo(4);
        assertThat(grown.costImpact().fallbacks()).isEqualTo(6);
        assertThat(grown.slaImpact().answeredRequests()).isEqualTo(6);
        assertThat(grown.slaImpact().slowRequests()).as("the late fallback's request: 3.42 s").isEqualTo(1);
        assertThat(grown.costImpact().fallbackExtraCostUsd()).as("2 x 0.00085 + (0.00075 - 0.00022) + 3 x (0.00096 - 0.0002)")
                .isCloseTo(2 * 0.00085 + 0.00053 + 3 * 0.00076, FLOAT_NOISE);
        same(null, cluster);

        // The overloaded episode (which shares request 2 with the outage) joins the cluster after its assessment.
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "insert into correlation_members (cluster_id, failure_id, joined_at) values (?, ?, ?)")) {
            st.setObject(1, cluster);
            st.setObject(2, overloaded);
            st.setTimestamp(3, Timestamp.from(t0));
            st.executeUpdate();
        }
        Assessment joined = same(null, cluster);
        assertThat(joined.userImpact().affectedRequests()).as("7 + 1, the shared request once").isEqualTo(7);
        assertThat(joined.userImpact().attempts()).isEqualTo(grown.userImpact().attempts());

        // A quality episode flags one of the fallback answers after the outage was assessed (a link of an episode
        // that is no member: found through the subject's kept requests).
        try (Connection c = dataSource.getConnection()) {
            UUID quality = UUID.randomUUID();
            Timestamp ended;
            try (PreparedStatement st = c.prepareStatement("select ended_at from llm_calls where call_id = ?"
                    + " and success")) {
                st.setString(1, "imp-req-5-" + inc.suffix());
                try (ResultSet rs = st.executeQuery()) {
                    rs.next();
                    ended = rs.getTimestamp(1);
                }
            }
            try (PreparedStatement st = c.prepareStatement("insert into failure_events (failure_id, fingerprint,"
                    + " category, type, severity, provider, deployment, detection_method, evidence, impact_scope,"
                    + " first_seen, last_seen, occurrences, affected_requests, affected_users) values (?, ?,"
                    + " 'QUALITY', 'format', 'P3', 'anthropic', ?, 'test', '{}', '{}', ?, ?, 1, 1, 1)")) {
                st.setObject(1, quality);
                st.setString(2, "fold-test-" + inc.suffix());
                st.setString(3, inc.fallback());
                st.setTimestamp(4, ended);
                st.setTimestamp(5, ended);
                st.executeUpdate();
            }
            try (PreparedStatement st = c.prepareStatement("insert into failure_event_calls (failure_id, call_id,"
                    + " seen_at) values (?, ?, ?)")) {
                st.setObject(1, quality);
                st.setString(2, "imp-req-5-" + inc.suffix());
                st.setTimestamp(3, ended);
                st.executeUpdate();
            }
        }
        assertThat(same(outage, null).qualityImpact().qualityFailures()).as("one more bad answer")
                .isEqualTo(grown.qualityImpact().qualityFailures() + 1);
        joined = same(null, cluster);

        // Nothing new: the figures stay; dropping the state folds it anew from the calls, to the same figures.
        same(null, cluster);
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "delete from impact_state where subject_id = ?")) {
            st.setObject(1, cluster);
            st.executeUpdate();
        }
        assertThat(same(null, cluster)).usingRecursiveComparison().isEqualTo(joined);
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select count(*) from impact_requests where subject_id = ?")) {
            st.setObject(1, cluster);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                assertThat(rs.getLong(1)).as("one kept contribution per request").isEqualTo(7);
            }
        }
    }

    /** Assesses the subject both ways and asserts they agree; returns the incremental assessment. */
    private Assessment same(UUID episode, UUID cluster) throws Exception {
        Assessment incremental = episode != null ? assessor.assessEpisode(episode).orElseThrow()
                : assessor.assessCluster(cluster).orElseThrow();
        Assessment full;
        try (Connection c = dataSource.getConnection()) {
            full = assessor.assessFull(c, episode != null ? assessor.episode(c, episode) : assessor.cluster(c, cluster));
        }
        assertThat(incremental).usingRecursiveComparison().withComparatorForType(
                (a, b) -> Math.abs(a - b) <= FLOAT_NOISE.value ? 0 : Double.compare(a, b), Double.class)
                .isEqualTo(full);
        return incremental;
    }

    private UUID cluster(Instant t0, UUID member) throws Exception {
        UUID cluster = UUID.randomUUID();
        try (Connection c = dataSource.getConnection()) {
            try (PreparedStatement st = c.prepareStatement("insert into correlation_clusters (cluster_id, type,"
                    + " status, strength, confidence, providers, evidence, first_seen, last_seen, last_activity,"
                    + " opened_at) values (?, 'cascade', 'active', 0.9, 0.9, '[\"openai\",\"anthropic\"]',"
                    + " '{}', ?, ?, ?, ?)")) {
                st.setObject(1, cluster);
                st.setTimestamp(2, Timestamp.from(t0));
                st.setTimestamp(3, Timestamp.from(t0.plusSeconds(200)));
                st.setTimestamp(4, Timestamp.from(t0.plusSeconds(200)));
                st.setTimestamp(5, Timestamp.from(t0));
                st.executeUpdate();
            }
            try (PreparedStatement st = c.prepareStatement("insert into correlation_members (cluster_id,"
                    + " failure_id, joined_at) values (?, ?, ?)")) {
                st.setObject(1, cluster);
                st.setObject(2, member);
                st.setTimestamp(3, Timestamp.from(t0));
                st.executeUpdate();
            }
        }
        return cluster;
    }

    /**
     * A merge absorbs a cluster (FailureCorrelationEngine's MERGE: the cluster's row deleted, then its impact row)
     * while an assessment of that cluster runs: the assessment must not store the absorbed cluster's impact again,
     * where the ranked list would show its members' impact twice.
     */
    @Test
    void an_assessment_racing_the_merge_that_absorbs_its_cluster_stores_nothing_for_it() throws Exception {
        Instant t0 = Instant.parse("2032-03-01T10:00:00Z");
        clock.set(t0.plus(Duration.ofMinutes(5)));
        String dep = "imp-merge-" + UUID.randomUUID();
        Api.ingest(Payloads.array(Payloads.failure("openai", "m", dep, t0, 503, "ServiceUnavailableError",
                "Service Unavailable"))).statusCode(200);
        UUID absorbed = cluster(t0, UUID.fromString(episodeOf(dep, "outage")));
        try (Connection merge = dataSource.getConnection()) {
            merge.setAutoCommit(false);
            try (PreparedStatement st = merge.prepareStatement("delete from correlation_clusters where cluster_id = ?;"
                    + " delete from failure_impacts where subject_id = ?")) {
                st.setObject(1, absorbed);
                st.setObject(2, absorbed);
                st.execute();
            }
            // The merge has not committed: the cluster is still there to a reader, and is going.
            assertThat(assessor.assessCluster(absorbed)).as("an assessment of a cluster being absorbed").isEmpty();
            merge.commit();
        }
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select count(*) from failure_impacts where subject_id = ?")) {
            st.setObject(1, absorbed);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                assertThat(rs.getLong(1)).as("impact rows of the absorbed cluster").isZero();
            }
        }
    }

    @Test
    void an_episode_whose_assessment_fails_is_left_out_and_the_other_open_ones_are_still_assessed() throws Exception {
        // Before: the run was one transaction that any subject's error rolled back, so one stored figure the database
        // could not read back (a cost sum past the largest double) stopped every open episode's assessment.
        Instant t0 = Instant.parse("2032-02-11T10:00:00Z");
        clock.set(t0.plus(Duration.ofMinutes(5)));
        String broken = "imp-iso-a-" + UUID.randomUUID();
        String sound = "imp-iso-b-" + UUID.randomUUID();
        Api.ingest(Payloads.array(
                Payloads.failure("openai", "m", broken, t0, 503, "ServiceUnavailableError", "Service Unavailable"),
                Payloads.failure("openai", "m", sound, t0.plusSeconds(1), 503, "ServiceUnavailableError",
                        "Service Unavailable"))).statusCode(200);
        UUID a = UUID.fromString(episodeOf(broken, "outage"));
        UUID b = UUID.fromString(episodeOf(sound, "outage"));
        assertThat(assessor.refreshOpen()).isGreaterThanOrEqualTo(2);
        try (Connection c = dataSource.getConnection()) {
            try (PreparedStatement st = c.prepareStatement("update impact_state set wasted_cost = 1e309"
                    + " where subject_id = ?")) {
                st.setObject(1, a);
                assertThat(st.executeUpdate()).isEqualTo(1);
            }
            try (PreparedStatement st = c.prepareStatement("delete from failure_impacts where subject_id = any (?)")) {
                st.setArray(1, c.createArrayOf("uuid", new Object[] { a, b }));
                assertThat(st.executeUpdate()).isEqualTo(2);
            }
        }

        assertThat(assessor.refreshOpen()).as("every open subject but the broken one").isGreaterThanOrEqualTo(1);

        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select subject_id from failure_impacts where subject_id = any (?)")) {
            st.setArray(1, c.createArrayOf("uuid", new Object[] { a, b }));
            List<UUID> assessed = new ArrayList<>();
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    assessed.add(rs.getObject(1, UUID.class));
                }
            }
            assertThat(assessed).containsExactly(b);
        }
    }

    @Test
    void a_run_made_again_without_a_failed_subject_counts_the_others_growth_once() throws Exception {
        // The sound episode is last seen later, so the run assesses it before the broken one, whose failure rolls the
        // run back; the run is then made again without it and assesses the sound one a second time.
        Instant t0 = Instant.parse("2032-02-12T10:00:00Z");
        clock.set(t0.plus(Duration.ofMinutes(5)));
        String broken = "imp-twice-a-" + UUID.randomUUID();
        String sound = "imp-twice-b-" + UUID.randomUUID();
        Api.ingest(Payloads.array(
                Payloads.failure("openai", "m", broken, t0, 503, "ServiceUnavailableError", "Service Unavailable"),
                Payloads.failure("openai", "m", sound, t0.plusSeconds(1), 503, "ServiceUnavailableError",
                        "Service Unavailable").set("response_cost", 0.01))).statusCode(200);
        UUID a = UUID.fromString(episodeOf(broken, "outage"));
        UUID b = UUID.fromString(episodeOf(sound, "outage"));
        assertThat(assessor.refreshOpen()).isGreaterThanOrEqualTo(2);
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "update impact_state set wasted_cost = 1e309 where subject_id = ?")) {
            st.setObject(1, a);
            assertThat(st.executeUpdate()).isEqualTo(1);
        }
        // The sound episode's cost grows by 0.02.
        Api.ingest(Payloads.array(Payloads.failure("openai", "m", sound, t0.plusSeconds(2), 503,
                "ServiceUnavailableError", "Service Unavailable").set("response_cost", 0.02))).statusCode(200);
        double before = Metrics.valueOrZero(Metrics.scrape(), "failure_impact_cost_usd_total", "provider", "openai",
                "category", "PROVIDER");

        assertThat(assessor.refreshOpen()).as("every open subject but the broken one").isGreaterThanOrEqualTo(1);

        assertThat(assessor.recomputeEpisode(b).orElseThrow().costImpact().totalUsd()).isCloseTo(0.03,
                Offset.offset(1e-9));
        assertThat(Metrics.valueOrZero(Metrics.scrape(), "failure_impact_cost_usd_total", "provider", "openai",
                "category", "PROVIDER") - before).as("the growth of the sound episode, counted once")
                .isCloseTo(0.02, Offset.offset(1e-9));
    }

    private static String episodeOf(String deployment, String type) {
        return given().when().get("/api/v1/failures?deployment=" + deployment + "&type=" + type).then()
                .statusCode(200).extract().jsonPath().getString("items[0].failureId");
    }
}

package io.faultline.call;

import io.faultline.web.ApiProblem;
import io.faultline.web.Params;
import jakarta.persistence.EntityManager;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.resteasy.reactive.RestQuery;

import java.time.Clock;
import java.time.Instant;
import java.util.List;

/**
 * Call volume per provider: what the catalog rests on, and what `make run` and the restart test count. Always over
 * a bounded window ({@link CallStatsConfig}), so that a request never scans every partition of the calls table.
 */
@Path("/api/v1/calls/stats")
@Tag(name = "calls")
@Produces(MediaType.APPLICATION_JSON)
public class CallStatsResource {

    private final EntityManager em;
    private final Clock clock;
    private final CallStatsConfig config;

    public CallStatsResource(EntityManager em, Clock clock, CallStatsConfig config) {
        this.em = em;
        this.clock = clock;
        this.config = config;
    }

    public record ProviderCalls(String provider, long calls, long failed) {
    }

    /** Calls that started in [since, until). */
    public record CallStats(Instant since, Instant until, long total, long failed, List<ProviderCalls> providers) {
    }

    @GET
    @Operation(summary = "Stored calls per provider that started in [since, until); default the last 24 hours,"
            + " at most 31 days")
    public CallStats stats(@RestQuery String since, @RestQuery String until) {
        Instant to = Params.instant("until", until);
        if (to == null) {
            to = clock.instant();
        }
        Instant from = Params.instant("since", since);
        if (from == null) {
            from = to.minus(config.defaultWindow());
        }
        if (!from.isBefore(to)) {
            throw ApiProblem.badRequest("since", "since must lie before until (" + to + ")");
        }
        if (from.isBefore(to.minus(config.maxSpan()))) {
            throw ApiProblem.badRequest("since", "since lies more than " + config.maxSpan().toDays() + " days before"
                    + " until (" + to + "); ask for at most faultline.calls.stats.max-span at a time");
        }
        @SuppressWarnings("unchecked")
        List<Object[]> rows = em.createNativeQuery("select provider, count(*), count(*) filter (where not success)"
                + " from llm_calls where started_at >= ?1 and started_at < ?2 group by provider order by provider")
                .setParameter(1, from).setParameter(2, to).getResultList();
        List<ProviderCalls> providers = rows.stream().map(r -> new ProviderCalls((String) r[0],
                ((Number) r[1]).longValue(), ((Number) r[2]).longValue())).toList();
        return new CallStats(from, to, providers.stream().mapToLong(ProviderCalls::calls).sum(),
                providers.stream().mapToLong(ProviderCalls::failed).sum(), providers);
    }
}

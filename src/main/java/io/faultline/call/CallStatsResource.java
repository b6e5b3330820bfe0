package io.faultline.call;

import io.faultline.web.ApiProblem;
import io.faultline.web.Params;
import jakarta.persistence.EntityManager;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.UriInfo;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.resteasy.reactive.RestQuery;

import java.time.Clock;
import java.time.Instant;
import java.util.Comparator;
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

    /**
     * Calls that started in [since, until). {@code providers} lists at most {@code max-providers}, those with the
     * most calls, by name; {@code providersOmitted} says how many more there were, counted in the totals.
     */
    public record CallStats(Instant since, Instant until, long total, long failed, List<ProviderCalls> providers,
            long providersOmitted) {
    }

    @GET
    @Operation(summary = "Stored calls per provider that started in [since, until); default the last 24 hours,"
            + " at most 31 days")
    public CallStats stats(@RestQuery String since, @RestQuery String until, @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of("since", "until"));
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
        // Provider names are the sender's: the answer keeps the busiest max-providers, the totals count them all.
        @SuppressWarnings("unchecked")
        List<Object[]> rows = em.createNativeQuery("select provider, calls, failed, sum(calls) over (),"
                + " sum(failed) over (), count(*) over () from (select provider, count(*) as calls,"
                + " count(*) filter (where not success) as failed from llm_calls where started_at >= ?1"
                + " and started_at < ?2 group by provider) per_provider order by calls desc, provider limit ?3")
                .setParameter(1, from).setParameter(2, to).setParameter(3, config.maxProviders()).getResultList();
        if (rows.isEmpty()) {
            return new CallStats(from, to, 0, 0, List.of(), 0);
        }
        Object[] first = rows.get(0);
        List<ProviderCalls> providers = rows.stream().map(r -> new ProviderCalls((String) r[0],
                ((Number) r[1]).longValue(), ((Number) r[2]).longValue()))
                .sorted(Comparator.comparing(ProviderCalls::provider)).toList();
        return new CallStats(from, to, ((Number) first[3]).longValue(), ((Number) first[4]).longValue(), providers,
                ((Number) first[5]).longValue() - providers.size());
    }
}

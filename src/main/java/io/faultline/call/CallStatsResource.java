package io.faultline.call;

import io.faultline.web.Params;
import jakarta.persistence.EntityManager;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.resteasy.reactive.RestQuery;

import java.time.Instant;
import java.util.List;

/** Call volume per provider: what the catalog rests on, and what `make run` and the restart test count. */
@Path("/api/v1/calls/stats")
@Tag(name = "calls")
@Produces(MediaType.APPLICATION_JSON)
public class CallStatsResource {

    private final EntityManager em;

    public CallStatsResource(EntityManager em) {
        this.em = em;
    }

    public record ProviderCalls(String provider, long calls, long failed) {
    }

    public record CallStats(long total, long failed, List<ProviderCalls> providers) {
    }

    @GET
    @Operation(summary = "Stored calls per provider, optionally since an instant")
    public CallStats stats(@RestQuery String since) {
        Instant parsed = Params.instant("since", since);
        Instant from = parsed == null ? Instant.EPOCH : parsed;
        @SuppressWarnings("unchecked")
        List<Object[]> rows = em.createNativeQuery("select provider, count(*), count(*) filter (where not success)"
                + " from llm_calls where started_at >= ?1 group by provider order by provider")
                .setParameter(1, from).getResultList();
        List<ProviderCalls> providers = rows.stream().map(r -> new ProviderCalls((String) r[0],
                ((Number) r[1]).longValue(), ((Number) r[2]).longValue())).toList();
        return new CallStats(providers.stream().mapToLong(ProviderCalls::calls).sum(),
                providers.stream().mapToLong(ProviderCalls::failed).sum(), providers);
    }
}

package io.faultline.web.access;

import io.quarkus.security.credential.TokenCredential;
import io.quarkus.security.identity.IdentityProviderManager;
import io.quarkus.security.identity.SecurityIdentity;
import io.quarkus.security.identity.request.AuthenticationRequest;
import io.quarkus.security.identity.request.TokenAuthenticationRequest;
import io.quarkus.vertx.http.runtime.security.ChallengeData;
import io.quarkus.vertx.http.runtime.security.HttpAuthenticationMechanism;
import io.quarkus.vertx.http.runtime.security.HttpCredentialTransport;
import io.smallrye.mutiny.Uni;
import io.vertx.core.http.HttpHeaders;
import io.vertx.ext.web.RoutingContext;
import jakarta.inject.Singleton;

import java.util.Set;

/**
 * {@code Authorization: Bearer <key>}: the key goes to {@link ApiKeyIdentityProvider}. No header (or an open path:
 * health, metrics, OPTIONS) is an anonymous request (which {@link RolePolicy} lets through only where the operation is open); a header that is not a bearer
 * key, or a key that is not configured, fails authentication with 401. The challenge is a problem+json body.
 */
@Singleton
public class ApiKeyAuthenticationMechanism implements HttpAuthenticationMechanism {

    private static final String BEARER = "Bearer ";

    private final AccessProblems problems;

    public ApiKeyAuthenticationMechanism(AccessProblems problems) {
        this.problems = problems;
    }

    @Override
    public Uni<SecurityIdentity> authenticate(RoutingContext context, IdentityProviderManager identities) {
        String header = context.request().getHeader(HttpHeaders.AUTHORIZATION);
        // Probes and Prometheus are open: a header meant for someone else (a scraper's token) must not fail them.
        if (header == null || header.isBlank() || AccessRules.allowed(context.request().method().name(),
                context.normalizedPath()).isEmpty()) {
            return Uni.createFrom().nullItem();
        }
        // Anything else (Basic, a bare key) is a key that does not match: 401 saying how to send one.
        String key = header.regionMatches(true, 0, BEARER, 0, BEARER.length())
                ? header.substring(BEARER.length())
                : "";
        return identities.authenticate(new TokenAuthenticationRequest(new TokenCredential(key, "bearer")));
    }

    @Override
    public Uni<ChallengeData> getChallenge(RoutingContext context) {
        return Uni.createFrom().item(new ChallengeData(401, "WWW-Authenticate", "Bearer"));
    }

    @Override
    public Uni<Boolean> sendChallenge(RoutingContext context) {
        problems.unauthorized(context);
        return Uni.createFrom().item(Boolean.TRUE);
    }

    @Override
    public Set<Class<? extends AuthenticationRequest>> getCredentialTypes() {
        return Set.of(TokenAuthenticationRequest.class);
    }

    @Override
    public Uni<HttpCredentialTransport> getCredentialTransport(RoutingContext context) {
        return Uni.createFrom().item(new HttpCredentialTransport(HttpCredentialTransport.Type.AUTHORIZATION,
                "bearer"));
    }
}

package io.faultline.web.access;

import io.quarkus.security.AuthenticationFailedException;
import io.quarkus.security.identity.AuthenticationRequestContext;
import io.quarkus.security.identity.IdentityProvider;
import io.quarkus.security.identity.SecurityIdentity;
import io.quarkus.security.identity.request.TokenAuthenticationRequest;
import io.quarkus.security.runtime.QuarkusPrincipal;
import io.quarkus.security.runtime.QuarkusSecurityIdentity;
import io.smallrye.mutiny.Uni;
import jakarta.inject.Singleton;

import java.util.Set;

/**
 * Turns a presented API key into an identity whose roles are the roles of that key (a key configured for two roles
 * has both). The principal is the role, never the key: nothing downstream can log a secret by logging a principal.
 */
@Singleton
public class ApiKeyIdentityProvider implements IdentityProvider<TokenAuthenticationRequest> {

    private final ApiKeys keys;

    public ApiKeyIdentityProvider(ApiKeys keys) {
        this.keys = keys;
    }

    @Override
    public Class<TokenAuthenticationRequest> getRequestType() {
        return TokenAuthenticationRequest.class;
    }

    @Override
    public Uni<SecurityIdentity> authenticate(TokenAuthenticationRequest request,
            AuthenticationRequestContext context) {
        Set<Role> roles = keys.rolesOf(request.getToken().getToken());
        if (roles.isEmpty()) {
            return Uni.createFrom().failure(new AuthenticationFailedException("The API key is not valid"));
        }
        QuarkusSecurityIdentity.Builder identity = QuarkusSecurityIdentity.builder()
                .setPrincipal(new QuarkusPrincipal("api-key:" + roles.iterator().next().label()));
        for (Role role : roles) {
            identity.addRole(role.label());
        }
        return Uni.createFrom().item(identity.build());
    }
}

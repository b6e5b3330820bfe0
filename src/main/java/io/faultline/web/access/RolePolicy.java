package io.faultline.web.access;

import io.quarkus.security.identity.SecurityIdentity;
import io.quarkus.vertx.http.runtime.security.HttpSecurityPolicy;
import io.smallrye.mutiny.Uni;
import io.vertx.ext.web.RoutingContext;
import jakarta.inject.Singleton;

import java.util.Set;

/**
 * The HTTP permission policy applied to every path ({@code quarkus.http.auth.permission.faultline.*}): the role
 * table of {@link AccessRules} decides, on the normalised path. Reads are open while no read key is configured.
 * An anonymous request that is denied gets a 401 challenge, an authenticated one a 403 naming the role needed.
 */
@Singleton
public class RolePolicy implements HttpSecurityPolicy {

    public static final String NAME = "faultline-roles";

    private final ApiKeys keys;

    public RolePolicy(ApiKeys keys) {
        this.keys = keys;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Uni<CheckResult> checkPermission(RoutingContext context, Uni<SecurityIdentity> identity,
            AuthorizationRequestContext requestContext) {
        Set<Role> allowed = AccessRules.allowed(context.request().method().name(), context.normalizedPath());
        if (allowed.isEmpty() || (AccessRules.isRead(allowed) && keys.readsOpen())) {
            return CheckResult.permit();
        }
        return identity.map(id -> {
            for (Role role : allowed) {
                if (id.hasRole(role.label())) {
                    return CheckResult.PERMIT;
                }
            }
            return CheckResult.DENY;
        });
    }
}

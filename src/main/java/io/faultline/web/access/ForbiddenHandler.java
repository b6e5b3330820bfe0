package io.faultline.web.access;

import io.quarkus.security.ForbiddenException;
import io.vertx.ext.web.Router;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;

/**
 * A valid key of the wrong role: Quarkus fails the route with {@link ForbiddenException}, whose default answer is an
 * empty 403. This failure handler (registered before Quarkus's own, which is last) answers problem+json instead.
 */
@Singleton
public class ForbiddenHandler {

    private final AccessProblems problems;

    public ForbiddenHandler(AccessProblems problems) {
        this.problems = problems;
    }

    void register(@Observes Router router) {
        router.route().failureHandler(context -> {
            if (context.failure() instanceof ForbiddenException && !context.response().ended()) {
                problems.forbidden(context);
            } else {
                context.next();
            }
        });
    }
}

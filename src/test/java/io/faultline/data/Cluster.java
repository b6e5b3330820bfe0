package io.faultline.data;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A Gaussian cluster of embeddings: a centre of norm 1 in a random direction plus isotropic noise of expected norm
 * {@code spread}. With spread 1 a vector's cosine to the centre is about 0.7, which is what sentence embeddings of
 * one corpus show. Shifts are applied to the whole cluster: a rotation of the centre's direction by an angle in a
 * random plane (the cluster turns rigidly), or a re-centring by an offset orthogonal to the centre.
 */
final class Cluster {

    final int dimensions;
    final double[] centre;
    final double spread;

    private Cluster(int dimensions, double[] centre, double spread) {
        this.dimensions = dimensions;
        this.centre = centre;
        this.spread = spread;
    }

    static Cluster random(int dimensions, double spread, SplittableRandom random) {
        return new Cluster(dimensions, unit(gaussian(dimensions, random)), spread);
    }

    /** {@code n} independent vectors of the cluster. */
    List<float[]> sample(int n, SplittableRandom random) {
        List<float[]> out = new ArrayList<>(n);
        double sigma = spread / Math.sqrt(dimensions);
        for (int i = 0; i < n; i++) {
            float[] v = new float[dimensions];
            for (int j = 0; j < dimensions; j++) {
                v[j] = (float) (centre[j] + sigma * random.nextGaussian());
            }
            out.add(v);
        }
        return out;
    }

    /** {@code 2 * pairs} vectors, centre ± the same noise, so that their mean is the centre exactly. */
    List<float[]> symmetric(int pairs, SplittableRandom random) {
        List<float[]> out = new ArrayList<>(2 * pairs);
        double sigma = spread / Math.sqrt(dimensions);
        for (int i = 0; i < pairs; i++) {
            float[] plus = new float[dimensions];
            float[] minus = new float[dimensions];
            for (int j = 0; j < dimensions; j++) {
                double noise = sigma * random.nextGaussian();
                plus[j] = (float) (centre[j] + noise);
                minus[j] = (float) (centre[j] - noise);
            }
            out.add(plus);
            out.add(minus);
        }
        return out;
    }

    /** The same cluster turned rigidly by {@code radians} in the plane of the centre and a random orthogonal axis. */
    Cluster rotated(double radians, SplittableRandom random) {
        double[] u = centre;
        double[] v = orthogonalUnit(u, random);
        return new Cluster(dimensions, rotate(centre, u, v, radians), spread);
    }

    /** The same cluster with its centre moved by {@code offset} (a norm) in a random direction orthogonal to it. */
    Cluster recentred(double offset, SplittableRandom random) {
        double[] v = orthogonalUnit(centre, random);
        double[] moved = new double[dimensions];
        for (int j = 0; j < dimensions; j++) {
            moved[j] = centre[j] + offset * v[j];
        }
        return new Cluster(dimensions, moved, spread);
    }

    /** The cosine distance a rotation by {@code radians} gives the means, before sampling noise. */
    static double distanceOfRotation(double radians) {
        return 1 - Math.cos(radians);
    }

    private static double[] rotate(double[] x, double[] u, double[] v, double radians) {
        double a = dot(x, u);
        double b = dot(x, v);
        double na = a * Math.cos(radians) - b * Math.sin(radians);
        double nb = a * Math.sin(radians) + b * Math.cos(radians);
        double[] out = x.clone();
        for (int j = 0; j < x.length; j++) {
            out[j] += (na - a) * u[j] + (nb - b) * v[j];
        }
        return out;
    }

    private static double[] orthogonalUnit(double[] u, SplittableRandom random) {
        double[] v = gaussian(u.length, random);
        double along = dot(v, u);
        for (int j = 0; j < v.length; j++) {
            v[j] -= along * u[j];
        }
        return unit(v);
    }

    private static double[] gaussian(int dimensions, SplittableRandom random) {
        double[] v = new double[dimensions];
        for (int j = 0; j < dimensions; j++) {
            v[j] = random.nextGaussian();
        }
        return v;
    }

    private static double[] unit(double[] v) {
        double norm = Math.sqrt(dot(v, v));
        for (int j = 0; j < v.length; j++) {
            v[j] /= norm;
        }
        return v;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int j = 0; j < a.length; j++) {
            s += a[j] * b[j];
        }
        return s;
    }
}

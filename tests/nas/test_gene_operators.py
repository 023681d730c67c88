"""The one set of genetic operators (gml.space.codec), shared by HPO's
EvolutionSearcher and NAS's SubnetEvolution."""
import random

from gml.algorithms.nas import SubnetEvolution
from gml.search.searchers import EvolutionSearcher
from gml.space import Categorical, Int, Nested, Real, validate_tree
from gml.space.codec import GeneCodec


def flat_space():
    return dict(genes=[Categorical(list(range(5))) for _ in range(6)])


def mixed_space():
    return dict(block=Nested([dict(kind='conv', k=Categorical([3, 5, 7])),
                              dict(kind='skip')]),
                width=Categorical([8, 16]),
                depth=Int(1, 5),
                lr=Real(0.1, 1.0),
                fixed=Categorical([4]))


def test_crossover_takes_each_gene_from_one_parent():
    codec = GeneCodec(flat_space())
    a, b = [0] * 6, [1] * 6
    # random.Random(0).random() gives 0.844, 0.758, 0.421, 0.259, 0.511,
    # 0.405: a draw below 0.5 takes the gene from a, otherwise from b
    child = codec.crossover(a, b, random.Random(0))
    assert child == [1, 1, 0, 0, 1, 0]
    assert codec.crossover(a, b, random.Random(0)) == child  # seeded


def test_crossover_takes_a_gene_the_picked_parent_lacks_from_the_other():
    space = dict(block=Nested([dict(k=Categorical([3, 5, 7])),
                               dict(skip=True)]),
                 width=Categorical([8, 16]))
    codec = GeneCodec(space)
    a = codec.encode(dict(block=dict(k=7), width=8))
    b = codec.encode(dict(block=dict(skip=True), width=16))
    assert a == [0, 2, 0] and b == [1, None, 1]
    # random.Random(3): 0.238 (a: option 0), 0.544 (b, which has no k:
    # a's k), 0.370 (a: width 8)
    child = codec.crossover(a, b, random.Random(3))
    assert child == [0, 2, 0]
    assert codec.decode(child) == dict(block=dict(k=7), width=8)


def test_mutation_with_prob_0_changes_nothing():
    codec = GeneCodec(mixed_space())
    rng = random.Random(1)
    for _ in range(50):
        parent = codec.random(rng)
        assert codec.mutate(parent, rng, 0.0) == parent


def test_mutation_with_prob_1_changes_every_mutable_gene():
    space = mixed_space()
    codec = GeneCodec(space)
    rng = random.Random(2)
    for _ in range(200):
        parent = codec.random(rng)
        child = codec.mutate(parent, rng, 1.0)
        validate_tree(space, codec.decode(child))
        before, after = codec.decode(parent), codec.decode(child)
        assert before['block']['kind'] != after['block']['kind']
        assert before['width'] != after['width']
        assert before['depth'] != after['depth']
        assert before['lr'] != after['lr']
        assert after['fixed'] == 4  # a single value cannot change


def test_at_least_one_gene_changes_when_asked():
    codec = GeneCodec(flat_space())
    rng = random.Random(4)
    for _ in range(50):
        parent = codec.random(rng)
        child = codec.mutate(parent, rng, 0.0, at_least_one=True)
        assert sum(x != y for x, y in zip(parent, child)) == 1


def test_hpo_and_nas_evolution_breed_with_the_same_operators():
    space = mixed_space()
    codec = GeneCodec(space)
    rng = random.Random(5)
    a, b = codec.random(rng), codec.random(rng)
    expected = codec.crossover(a, b, random.Random(6))
    hpo = EvolutionSearcher(space, seed=0)
    assert hpo.crossover(a, b, random.Random(6)) == expected
    nas = SubnetEvolution(space, lambda c: 0.0, seed=0)
    nas.rng = random.Random(6)
    assert nas._crossover_vectors(a, b) == expected
    nas.rng = random.Random(7)
    assert nas._mutate_vector(a) == codec.mutate(a, random.Random(7),
                                                 nas.mutate_prob)

"""What every slice backbone derives from its search space."""
from ...space import map_spaces, sample_of


class SubnetSpaceMixin:
    """Subnet configurations of ``self.search_space``: the largest, the
    smallest, and seeded random ones (same structure as the space)."""

    def max_subnet(self) -> dict:
        """The configuration of every space's largest value."""
        return map_spaces(self.search_space, lambda s: s.max)

    def min_subnet(self) -> dict:
        """The configuration of every space's smallest value."""
        return map_spaces(self.search_space, lambda s: s.min)

    def random_subnet(self, seed=None) -> dict:
        """A random configuration; the same seed gives the same one."""
        return sample_of(self.search_space, seed)

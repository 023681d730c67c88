"""Early-stopping assessors: judge a running trial from its intermediate
rewards. Importing this package registers them in ``ASSESSORS``; numpy and
numba load only when a curve-fitting prediction runs."""
from ..registry import ASSESSORS
from .base import Assessor
from .curve_fitting import CurveFittingAssessor
from .hyperband import HyperbandAssessor, SuccessiveHalvingAssessor
from .median_stop import MedianStopAssessor

__all__ = ['Assessor', 'ASSESSORS', 'CurveFittingAssessor',
           'HyperbandAssessor', 'MedianStopAssessor',
           'SuccessiveHalvingAssessor']

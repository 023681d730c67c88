"""Install gml: ``pip install -e .`` (add ``[tests]`` for the test suite)."""
import os

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read_version():
    scope = {}
    with open(os.path.join(HERE, 'gml', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


INSTALL_REQUIRES = [
    'torch>=2.1,<2.15',
    'torchvision>=0.16,<0.30',
    'mmengine>=0.10.4,<0.11',
    'mmcv-lite>=2.0,<2.3',
    'mmpretrain>=1.2,<1.3',
    'torchao>=0.18,<0.19',
    'numpy>=1.24',
    'scikit-learn>=1.3',
    'scikit-optimize>=0.10.2',
    'optuna>=3.6,<6',  # TPESearcher (imported only when it is used)
    'pyyaml>=6',
    'numba>=0.58',
    'rich>=13',
    'matplotlib>=3.7',
]

EXTRAS = {
    # Ranges that install together today (checked with pytest 9.2,
    # pytest-timeout 2.4, pytest-xdist 3.8, tensorboard 2.21, ray 2.60).
    # ray[default] (the job server and client) runs the ray scheduler's
    # tests on a local Ray head: about 320 MB installed.
    'tests': ['pytest>=8,<10', 'pytest-timeout>=2.3,<3',
              'pytest-xdist>=3.5,<4', 'tensorboard>=2.14,<3',
              'ray[default]>=2.10,<3',
              # the web view's browser test (drives Debian's chromium)
              'selenium>=4.11,<5'],
    'export': ['tensorboard>=2.14'],
    'bench': ['analog-nasbench==0.1.3'],
}

setup(
    name='gml',
    version=read_version(),
    description='AutoML and model compression for OpenMMLab training: '
                'distillation, NAS, pruning, quantization and '
                'hyper-parameter search from one config block.',
    long_description=open(os.path.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    python_requires='>=3.10',
    packages=find_packages(include=['gml', 'gml.*']),
    include_package_data=True,
    package_data={'gml.search': ['examples/*.yaml'],
                  'gml.search.web': ['assets/*']},
    entry_points={'console_scripts': [
        'search-init = gml.search.cli.init:entry',
        'search-run = gml.search.cli.run:entry',
        'search-ctl = gml.search.cli.ctl:entry',
    ]},
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS,
    license='Apache-2.0',
    classifiers=[
        'Programming Language :: Python :: 3',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
)

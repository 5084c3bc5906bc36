"Packaging for vcls_lite. Everything is read from settings.ini: edit there, not here."
import shlex
from configparser import ConfigParser
import setuptools

config = ConfigParser(delimiters=['='])
config.read('settings.ini', encoding='utf-8')
cfg = config['DEFAULT']

licenses = {'apache2': ('Apache Software License 2.0', 'OSI Approved :: Apache Software License')}
statuses = ['Planning', 'Pre-Alpha', 'Alpha', 'Beta', 'Production/Stable', 'Mature', 'Inactive']
py_versions = '3.11 3.12 3.13'.split()
lic = licenses[cfg['license']]
min_python = cfg['min_python']
requirements = shlex.split(cfg.get('requirements', ''))
dev_requirements = shlex.split(cfg.get('dev_requirements', ''))
extras = {k: shlex.split(cfg.get(f'{k}_requirements', '')) for k in ('export', 'lab', 'tensorboard')}

setuptools.setup(
    name=cfg['lib_name'],
    license=lic[0],
    classifiers=[f'Development Status :: {cfg["status"]} - {statuses[int(cfg["status"])]}',
                 f'Intended Audience :: {cfg["audience"].title()}',
                 f'License :: {lic[1]}',
                 f'Natural Language :: {cfg["language"].title()}']
                + [f'Programming Language :: Python :: {o}' for o in py_versions[py_versions.index(min_python):]],
    url=cfg['git_url'],
    packages=setuptools.find_packages(include=['vcls_lite', 'vcls_lite.*']),
    include_package_data=True,
    install_requires=requirements,
    extras_require={'dev': dev_requirements, **extras},
    license_files=['LICENSE'],
    python_requires=f'>={min_python}',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    zip_safe=False,
    entry_points={'console_scripts': cfg.get('console_scripts', '').split(),
                  'nbdev': [f'{cfg["lib_path"]}={cfg["lib_path"]}._modidx:d']},
    version=cfg['version'],
    author=cfg['author'], author_email=cfg['author_email'],
    description=cfg['description'], keywords=cfg['keywords'],
)

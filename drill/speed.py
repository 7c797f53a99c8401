"""Speed only: what makes a drill run cheaper without changing anything the product or the drill reads.

Every simulated account starts moto and the product afresh, and a test session runs about a hundred of them; most of
a run went to work that gives the same result every time (measured with py-spy on `tests/e2e/test_faults.py`).
Each patch here keeps that result for the process. None of them touches what a call answers: the drill's corrections
of moto's answers are in drill/moto_quirks.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import cache
from typing import Any

import botocore.loaders
import botocore.session


@contextmanager
def once_per_process() -> Iterator[None]:
    with ExitStack() as stack:
        for patch in (
            definitions_parsed_once,
            service_models_loaded_once,
            handler_names_listed_once,
            task_clients_made_once,
        ):
            stack.enter_context(patch())
        yield


# -- the state machine's definition ---------------------------------------------------------------------------------
_TREES: dict[str, Any] = {}
_TREES_LOCK = threading.Lock()


@contextmanager
def definitions_parsed_once() -> Iterator[None]:
    """moto parses a state machine's definition with ANTLR when it is created and again at each execution (AWS
    parses once, at CreateStateMachine): 1.8 s for the product's definition the first time in a process, 0.2-0.4 s
    each time after, inside the execution the drill times. The syntax tree of a definition is kept for the process;
    the evaluation components are built anew from it each time, as moto builds them (each execution still gets
    components of its own, and a definition moto rejects is still rejected)."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    original = AmazonStateLanguageParser.__dict__["parse"]  # the staticmethod itself, to put back as it was
    AmazonStateLanguageParser.parse = staticmethod(_parse_with_kept_tree)  # type: ignore[method-assign]
    try:
        yield
    finally:
        AmazonStateLanguageParser.parse = original  # type: ignore[method-assign]


def _parse_with_kept_tree(definition: str) -> tuple[Any, Any]:
    """moto's AmazonStateLanguageParser.parse, with the syntax tree of each definition parsed once per process."""
    from moto.stepfunctions.parser.asl.parse import asl_parser as moto

    with _TREES_LOCK:
        tree = _TREES.get(definition)
    if tree is None:
        errors = moto.SyntaxErrorListener()
        parser = moto.ASLParser(moto.CommonTokenStream(moto.ASLLexer(moto.InputStream(definition))))
        parser.removeErrorListeners()
        parser.addErrorListener(errors)
        tree = parser.state_machine()
        if errors.errors:
            raise moto.ASLParserException(errors=errors.errors)
        with _TREES_LOCK:
            _TREES[definition] = tree
    return moto.Preprocessor().visit(tree), tree


# -- botocore's service models ----------------------------------------------------------------------------------------
_LOADERS: dict[str | None, Any] = {}


@contextmanager
def service_models_loaded_once() -> Iterator[None]:
    """Every simulated account starts with new botocore sessions (moto's and the product's, whose modules are imported
    anew), and each session's loader parsed the service models' JSON again: a third of a drill run. The sessions share
    one loader for the process, as a warm Lambda's session keeps its own (the models are botocore's, read-only once
    loaded)."""
    original = botocore.session.create_loader  # type: ignore[attr-defined]
    botocore.session.create_loader = _shared_loader  # type: ignore[attr-defined]
    try:
        yield
    finally:
        botocore.session.create_loader = original  # type: ignore[attr-defined]


def _shared_loader(search_path_string: str | None = None) -> Any:
    """botocore.loaders.create_loader, one loader per AWS_DATA_PATH for the process."""
    if search_path_string not in _LOADERS:
        _LOADERS[search_path_string] = botocore.loaders.create_loader(search_path_string)
    return _LOADERS[search_path_string]


# -- moto's request dispatch ------------------------------------------------------------------------------------------
@contextmanager
def handler_names_listed_once() -> Iterator[None]:
    """moto lists the methods of a service's response class (inspect.getmembers) at every request, to find the one
    answering it: a twentieth of a drill run. The names are listed once per class; the method is still looked up on
    the class at each request, so the drill's corrections of a method (drill/moto_quirks.py) still answer."""
    from moto.core import responses

    original = responses.method_names_from_class
    responses.method_names_from_class = _method_names  # type: ignore[assignment]
    try:
        yield
    finally:
        responses.method_names_from_class = original  # type: ignore[assignment]


@cache
def _method_names(clazz: type) -> list[str]:
    from moto.core.utils import method_names_from_class

    return method_names_from_class(clazz)


# -- Step Functions' task clients -------------------------------------------------------------------------------------
_TASK_CLIENTS: dict[tuple[str, str, bool], Any] = {}
_TASK_CLIENTS_LOCK = threading.Lock()


@contextmanager
def task_clients_made_once() -> Iterator[None]:
    """moto's Step Functions interpreter builds a new boto3 client for every task it runs (a Lambda invoke, an SDK
    integration): half of the clients a drill run made. One per region and service is kept for the process; moto
    gives each the same fixed credentials and configuration, and routes its calls to the account of the moment."""
    import sys

    from moto.stepfunctions.parser.asl.parse import preprocessor  # noqa: F401  (imports every state's module)
    from moto.stepfunctions.parser.asl.utils import boto_client

    original = boto_client.boto_client_for

    def kept(region: str, service: str, state_credentials: Any = None) -> Any:
        key = (region, service, boto_client.botocore_stubber.enabled)
        with _TASK_CLIENTS_LOCK:
            if key not in _TASK_CLIENTS:
                _TASK_CLIENTS[key] = original(region, service, state_credentials)
            return _TASK_CLIENTS[key]

    users = [
        module
        for name, module in list(sys.modules.items())
        if name.startswith("moto.stepfunctions.parser") and getattr(module, "boto_client_for", None) is original
    ]
    for module in users:
        module.boto_client_for = kept  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for module in users:
            module.boto_client_for = original  # type: ignore[attr-defined]


# -- the drill's own clients ------------------------------------------------------------------------------------------
_DRILL_CLIENTS: dict[tuple[str, str], Any] = {}
_DRILL_CLIENTS_LOCK = threading.Lock()


def drill_client(service: str, region: str) -> Any:
    """A client for the drill's staging and read-back, one per service and region for the process: reading an account
    back made a client per call, and then one per account, a tenth of a drill run. Every simulated account signs with
    the same fake credentials (SimulatedAccount sets them), and moto answers for the account MOTO_ACCOUNT_ID names at
    each request, so a client made for one account serves the next."""
    with _DRILL_CLIENTS_LOCK:  # a botocore session is not safe to build clients from in two threads at once
        if (service, region) not in _DRILL_CLIENTS:
            _DRILL_CLIENTS[service, region] = _drill_session().client(service, region_name=region)
        return _DRILL_CLIENTS[service, region]


@cache
def _drill_session() -> Any:
    import boto3

    return boto3.session.Session()

"""The first published clause template (version 1). The official text of the adhesion clauses (RSGP
009-2019-PCM/SGP) is not public: this one is ours, written from the domain brief and DL 1211 / DS 1447."""

TITLE = "Cláusula de Adhesión a la Plataforma de Mejor Atención al Ciudadano (MAC)"

BODY = """\
## PRIMERA · DE LAS PARTES

La {entidad}, con RUC {ruc_entidad}, en adelante LA ENTIDAD PARTICIPANTE, se adhiere al {centro}, ubicado en \
{direccion_centro}, administrado por la {administradora}, con RUC {ruc_administradora}, en adelante LA ENTIDAD \
ADMINISTRADORA, en el marco del Decreto Legislativo N.º 1211 y sus normas reglamentarias.

## SEGUNDA · DEL OBJETO

La presente cláusula tiene por objeto establecer las condiciones bajo las cuales LA ENTIDAD PARTICIPANTE brinda \
{servicios} a la ciudadanía en el {centro}, empleando {modulos} módulo(s) de atención y un área de {area_m2} m².

## TERCERA · DE LOS ACUERDOS DE NIVEL DE SERVICIO

LA ENTIDAD PARTICIPANTE se compromete a cumplir los Acuerdos de Nivel de Servicio (ANS) detallados en \
{anexo_ans}, cuyo cumplimiento es supervisado por LA ENTIDAD ADMINISTRADORA, que reporta sus resultados a la \
entidad participante y a la Secretaría de Gestión Pública de la Presidencia del Consejo de Ministros.

## CUARTA · DEL FINANCIAMIENTO

LA ENTIDAD PARTICIPANTE cofinancia la implementación y operación del centro y abona un importe mensual por uso \
de locación de {importe_locacion}, distinto del cofinanciamiento de los costos comunes, que se distribuyen así: \
{cofinanciamiento}. Las entidades públicas efectúan el pago mediante transferencia presupuestal.

## QUINTA · DEL PLAZO Y LA RENOVACIÓN

La adhesión rige por {plazo_meses} meses desde la fecha de inicio de vigencia que fije LA ENTIDAD \
ADMINISTRADORA al aceptarla, y puede renovarse mediante una nueva cláusula que la continúe.

## SEXTA · DE LA SUSPENSIÓN

LA ENTIDAD ADMINISTRADORA puede suspender la prestación de los servicios por causas debidamente motivadas, \
tales como el incumplimiento reiterado de los ANS, la falta de pago o razones de seguridad, comunicándolo a LA \
ENTIDAD PARTICIPANTE; la suspensión se levanta cuando cesa la causa.

## SÉPTIMA · DE LA TERMINACIÓN ANTICIPADA

La adhesión puede terminar anticipadamente por mutuo acuerdo, por incumplimiento grave o por decisión \
motivada de cualquiera de las partes. La terminación anticipada es declarada por LA ENTIDAD ADMINISTRADORA \
previa opinión favorable de la Secretaría de Gestión Pública.

## OCTAVA · DE LA PROTECCIÓN DE DATOS PERSONALES

Las partes tratan los datos personales de la ciudadanía conforme a la Ley N.º 29733, Ley de Protección de Datos \
Personales, y su Reglamento, únicamente para la prestación de los servicios, y adoptan las medidas de seguridad \
que dichas normas exigen.

## NOVENA · DE LA OPINIÓN PREVIA Y LA ACEPTACIÓN

La presente adhesión surte efecto con la opinión previa favorable de la Secretaría de Gestión Pública y la \
aceptación de LA ENTIDAD ADMINISTRADORA, expresada con su contrafirma en este mismo documento.
"""
